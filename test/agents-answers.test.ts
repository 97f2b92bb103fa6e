/**
 * What the web workspace needs from the daemon to answer agents, through the real daemon and socket:
 * each runtime's answer keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { scriptedRuntime, writeRuntimes } from './support/agents.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime({ answers: { approve: '1', deny: '\x1b' } }),
  });
  client = await daemon.connect();
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
});

describe('answer keys', () => {
  it('every runtime that asks for approval lists the keys that approve and deny (Esc denies); the shell has none', async () => {
    const answers = Object.fromEntries((await client.runtimes()).map((r) => [r.name, r.answers]));
    expect(answers.claude).toEqual({ approve: '1', deny: '\x1b' });
    expect(answers.codex).toEqual({ approve: 'y', deny: '\x1b' });
    expect(answers.gemini).toEqual({ approve: '\r', deny: '\x1b' });
    expect(answers.opencode).toEqual({ approve: '\r', deny: '\x1b' });
    expect(answers.shell).toBeNull();
    expect(answers.scripted).toEqual({ approve: '1', deny: '\x1b' });
  });
});
