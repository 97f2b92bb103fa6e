/**
 * The daemon's screen model answers terminal queries, so a program that asks gets exactly one
 * answer even with no client attached. Secrets given as env values never reach the disk.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

/** A program that sends `query`, collects its input for 700 ms, and prints it as JSON. */
const asker = (query: string) => `
process.stdin.setRawMode(true);
let got = '';
process.stdin.on('data', (d) => { got += d.toString('latin1'); });
process.stdout.write(${JSON.stringify(query)});
setTimeout(() => { process.stdout.write('\\r\\nREPLIES=' + JSON.stringify(got) + '\\r\\n'); process.exit(0); }, 700);
`;

async function replies(client: TowerClient, query: string, cols = 80): Promise<string> {
  const { sessionId } = await client.createSession({
    shell: process.execPath,
    args: ['-e', asker(query)],
    cols,
  });
  const screen = await waitFor(async () => {
    const text = (await client.screen(sessionId)).text;
    return text.includes('REPLIES=') && text;
  }, 'the program to report what it received');
  return JSON.parse(/REPLIES=(".*")/.exec(screen)![1]!);
}

describe('terminal queries', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    daemon = await startTestDaemon();
    client = await daemon.connect();
  });

  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  it('answers primary device attributes exactly once, with nobody attached', async () => {
    const got = await replies(client, '\x1b[c');
    expect(got.match(/\x1b\[\?[\d;]*c/g)).toHaveLength(1);
  });

  it('answers a cursor position report with the real position', async () => {
    const got = await replies(client, '\x1b[5;12H\x1b[6n');
    expect(got).toBe('\x1b[5;12R');
  });

  it('answers two queries in a row in order', async () => {
    const got = await replies(client, '\x1b[3;4H\x1b[6n\x1b[c');
    expect(got.startsWith('\x1b[3;4R')).toBe(true);
    expect(got.match(/\x1b\[\?[\d;]*c/g)).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('env values given at creation are never written to the state dir', async () => {
    const daemon = await startTestDaemon();
    const client = await daemon.connect();
    const secret = `sekrit-${Math.random().toString(36).slice(2)}`;
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'test -n "$API_KEY" && echo key-present; sleep 30'],
      env: { API_KEY: secret },
    });
    await waitFor(
      async () => (await client.screen(sessionId)).text.includes('key-present'),
      'the program to see its env',
    );
    client.end();
    await daemon.stop();
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(daemon.stateDir);
    expect(files.some((f) => f.endsWith('tower.db'))).toBe(true);
    for (const file of files) expect(readFileSync(file).includes(secret), file).toBe(false);
    await daemon.dispose();
  });
});
