/**
 * The web server's limits, against the real `tower serve`: many watchers without leak warnings, a cap
 * on open streams (SSE and WebSocket) with a clear 503 past it, and WebSocket frames refused by size
 * before they are buffered.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../dist/client/client.js';
import { killLeftovers, startCli } from './support/cli.js';
import { waitFor } from './support/daemon.js';
import { SseReader } from './support/http.js';

const scratch: string[] = [];
afterAll(() => {
  killLeftovers();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** `tower serve ARGS` with its stderr captured; resolves once the web URL is printed. */
async function serve(args: string[] = []) {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-limits-'));
  scratch.push(stateDir);
  const running = startCli(stateDir, ['serve', ...args]);
  await waitFor(() => running.stdout().includes('#token='), 'the login URL');
  const base = /Tower web workspace: (\S+)\/#token=/.exec(running.stdout())![1]!;
  const token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
  return {
    stateDir,
    base,
    token,
    stderr: () => running.stderr(),
    stop: async () => {
      running.child.kill('SIGTERM');
      await running.done;
    },
  };
}

describe('many watchers', () => {
  it('12 /api/events streams and 12 socket watchers: every one hears a change, no leak warning', async () => {
    const daemon = await serve();
    const streams = await Promise.all(
      Array.from({ length: 12 }, () => SseReader.open(daemon.base, '/api/events', { token: daemon.token })),
    );
    const watchers = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const client = await TowerClient.connect({ stateDir: daemon.stateDir });
        await client.watch();
        await client.watchAttention();
        const heard: string[] = [];
        client.on('session_event', ({ event }) => heard.push(event));
        return { client, heard };
      }),
    );
    const client = await TowerClient.connect({ stateDir: daemon.stateDir });
    const { sessionId } = await client.createSession({ shell: '/bin/true' });
    for (const stream of streams) {
      await stream.next((e) => e.event === 'exited' && e.data.session.id === sessionId, 'the exit');
    }
    await waitFor(() => watchers.every((w) => w.heard.includes('exited')), 'every watcher to hear the exit');
    expect(daemon.stderr()).not.toContain('MaxListenersExceededWarning');
    for (const stream of streams) stream.close();
    for (const watcher of watchers) watcher.client.end();
    client.end();
    await daemon.stop();
    expect(daemon.stderr()).not.toContain('MaxListenersExceededWarning');
  });
});
