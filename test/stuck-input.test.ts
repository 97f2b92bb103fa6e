/**
 * A program that does not read its input must cost its own session, never the daemon: typing into it
 * is queued (bounded) and written as the PTY accepts it; past the bound the writer gets `input_full`;
 * terminal-query answers it never reads are dropped. Meanwhile every other session streams, every
 * request is answered and SIGTERM stops the daemon.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { MAX_INPUT_QUEUE_BYTES } from '../dist/protocol/limits.js';
import { runCli } from './support/cli.js';
import { collectOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { api } from './support/http.js';
import { readTokenFile } from './support/raw-socket.js';

/** Raw mode, no echo, and never reads: the PTY's input buffer fills and stays full. */
const DEAF = ['-c', 'stty raw -echo; echo deaf-ready; exec sleep 1000'];

/** Answers within a deadline or says the daemon is stuck: a frozen daemon must fail the test, not hang it. */
async function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (daemon stuck?)`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a program that never reads its input', () => {
  let daemon: TestDaemon;
  let client: TowerClient;
  let cwd: string;

  // A fresh daemon per test: one that froze must not take the next test with it.
  beforeEach(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'tower-stuck-input-'));
    daemon = await startTestDaemon();
    client = await daemon.connect();
  });

  afterEach(async () => {
    client?.end();
    // A frozen host ignores SIGTERM: do not let it outlive the test.
    await daemon?.crash();
    if (daemon) rmSync(daemon.stateDir, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });

  const spawnDeaf = async () => {
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: DEAF, cwd });
    await waitFor(async () => (await client.screen(sessionId)).text.includes('deaf-ready'), 'deaf-ready');
    return sessionId;
  };

  it('takes 20 kB of typing without freezing: other sessions stream and requests are answered', async () => {
    const deaf = await spawnDeaf();
    const { sessionId: chatty } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'i=0; while [ $i -lt 200 ]; do echo tick-$i; i=$((i+1)); sleep 0.01; done'],
      cwd,
    });
    const other = await daemon.connect();
    const ticks = collectOutput(other, chatty);
    await other.subscribe(chatty, { fromOffset: 0 });

    const typed = await runCli(daemon.stateDir, ['send', deaf, 'a'.repeat(20_000)], { timeoutMs: 10_000 });
    expect(typed.code, typed.stderr).toBe(0);

    const listed = await within(client.list(), 'list_sessions after the stuck write');
    expect(listed.map((s) => s.id)).toContain(deaf);
    await waitFor(() => ticks.closed() !== null, 'the other session to finish streaming', 15_000);
    expect(ticks.text()).toContain('tick-199');
    expect(ticks.gaps()).toBe(0);
    other.end();
  });

  it('refuses typing past the bound with input_full, and keeps the session', async () => {
    const deaf = await spawnDeaf();
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    let refused: Error | null = null;
    let accepted = 0;
    for (let i = 0; i < 2 * (MAX_INPUT_QUEUE_BYTES / chunk.length) + 2 && !refused; i++) {
      try {
        await within(client.write(deaf, chunk), 'write_input');
        accepted += chunk.length;
      } catch (error) {
        refused = error as Error;
      }
    }
    expect(refused, 'a write past the bound must be refused').not.toBeNull();
    expect((refused as { code?: string }).code).toBe('input_full');
    expect(refused!.message).toMatch(/not reading its input/);
    expect(accepted).toBeLessThanOrEqual(MAX_INPUT_QUEUE_BYTES + chunk.length);
    const session = (await client.list()).find((s) => s.id === deaf);
    expect(session?.status).toBe('running');

    // The same refusal over HTTP: 429 with the code and the reason.
    const response = await api(daemon.httpUrl!, `/api/sessions/${deaf}/input`, {
      method: 'POST',
      token: readTokenFile(daemon.stateDir),
      body: { data: 'b'.repeat(64 * 1024) },
    });
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ error: 'input_full' });
  });

  it('drops terminal-query answers the program never reads', async () => {
    // 20,000 cursor-position and device-attribute queries, then sleep without reading a byte.
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: [
        '-c',
        'stty raw -echo; i=0; while [ $i -lt 2000 ]; do printf "\\033[6n\\033[c\\033[6n\\033[c\\033[6n\\033[c\\033[6n\\033[c\\033[6n\\033[c"; i=$((i+1)); done; echo queries-done; exec sleep 1000',
      ],
      cwd,
    });
    await waitFor(
      async () => (await within(client.screen(sessionId), 'read_screen')).text.includes('queries-done'),
      'the query storm to end',
      20_000,
    );
    await within(client.list(), 'list_sessions after the query storm');
    await within(client.ping(), 'ping after the query storm');
  });

  it('the host still stops on SIGTERM, hanging up the stuck sessions', async () => {
    await spawnDeaf();
    const host = daemon.hostPid();
    expect(host).not.toBeNull();
    process.kill(host!, 'SIGTERM');
    await within(
      waitFor(() => daemon.hostPid() === null, 'the host to exit', 10_000),
      'exit after SIGTERM',
      10_000,
    );
  });
});
