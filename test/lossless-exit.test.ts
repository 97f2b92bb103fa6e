/**
 * Every byte a program writes before it exits is journaled before the session reports exit.
 * node-pty alone loses the tail of fast writers in roughly one run in five on this kind of machine.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { readAllOutput, startTestDaemon, type TestDaemon } from './support/daemon.js';

const RUNS = Number(process.env.LOSSLESS_RUNS ?? 200);
const MAX_BYTES = 5 * 1024 * 1024;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('no output is lost at exit', () => {
  let daemon: TestDaemon;
  let client: TowerClient;
  let dataDir: string;
  let source: Buffer;

  beforeAll(async () => {
    daemon = await startTestDaemon();
    client = await daemon.connect();
    dataDir = mkdtempSync(join(tmpdir(), 'tower-lossless-'));
    source = randomBytes(MAX_BYTES);
    writeFileSync(join(dataDir, 'random.bin'), source);
  });

  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`${RUNS} runs of a fast writer that exits at once: every byte arrives, checksums match`, async () => {
    const failures: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const size = 1024 + Math.floor(Math.random() * (MAX_BYTES - 1024));
      const exitCode = run % 7;
      const closed = new Promise<{ exitCode: number | null }>((resolve) => {
        const onClosed = (event: { sessionId: string; exitCode: number | null }) => {
          if (event.sessionId !== id) return;
          client.off('closed', onClosed);
          resolve(event);
        };
        client.on('closed', onClosed);
      });
      // Raw mode: no output processing, so the bytes on the terminal are the file's bytes.
      const script = `stty raw -echo; head -c ${size} ${join(dataDir, 'random.bin')}; exit ${exitCode}`;
      const id = `run-${run}`;
      await client.createSession({ id, shell: '/bin/sh', args: ['-c', script] });
      await client.subscribe(id, { fromOffset: 0 });
      const exit = await closed;
      const journaled = await readAllOutput(client, id, 0);
      const expected = source.subarray(0, size);
      if (journaled.length !== size || sha256(journaled) !== sha256(expected)) {
        failures.push(`run ${run}: wrote ${size}, journaled ${journaled.length}`);
      }
      if (exit.exitCode !== exitCode)
        failures.push(`run ${run}: exit code ${exit.exitCode}, expected ${exitCode}`);
      await client.remove(id);
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it('records the signal that ended a program', async () => {
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'kill -TERM $$'] });
    await client.subscribe(sessionId);
    const info = await waitForExit(client, sessionId);
    expect(info.status).toBe('exited');
    expect(info.exit_signal).toBe(15);
  });
});

async function waitForExit(client: TowerClient, id: string) {
  for (let i = 0; i < 400; i++) {
    const info = (await client.list()).find((s) => s.id === id);
    if (info && info.status !== 'running') return info;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`session ${id} did not exit`);
}
