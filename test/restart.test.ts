/** A daemon killed with -9 comes back with every session listed (as lost) and its output readable. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

describe('daemon restart after kill -9', () => {
  let daemon: TestDaemon;

  beforeAll(async () => {
    daemon = await startTestDaemon();
  });

  afterAll(async () => {
    await daemon?.dispose();
  });

  it('lists every session afterwards: running ones as lost, exited ones as exited, output intact', async () => {
    const client = await daemon.connect();
    const live = await client.createSession({
      name: 'survivor',
      shell: '/bin/sh',
      args: ['-c', 'for i in $(seq 1 500); do echo "line $i of the live session"; done; sleep 3600'],
      cols: 90,
      rows: 20,
    });
    const done = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'echo finished-marker; exit 4'],
    });
    await waitFor(async () => {
      const sessions = await client.list();
      const b = sessions.find((s) => s.id === done.sessionId);
      return b?.status === 'exited' && (await client.screen(live.sessionId)).text.includes('line 500');
    }, 'output of both sessions');
    const before = await readAllOutput(client, live.sessionId, 0);
    expect(before.toString()).toContain('line 500 of the live session');
    client.end();

    // Give the journal its last write-through before the crash: writes are synchronous per flush.
    await daemon.crash();
    await daemon.restart();

    const after = await daemon.connect();
    const sessions = await after.list();
    const lost = sessions.find((s) => s.id === live.sessionId);
    const exited = sessions.find((s) => s.id === done.sessionId);
    expect(lost).toMatchObject({ status: 'lost', name: 'survivor', cols: 90, rows: 20 });
    expect(exited).toMatchObject({ status: 'exited', exit_code: 4 });
    expect(lost!.last_offset).toBe(before.length);

    const replayed = await readAllOutput(after, live.sessionId, 0);
    expect(replayed.equals(before)).toBe(true);
    expect((await readAllOutput(after, done.sessionId, 0)).toString()).toContain('finished-marker');

    // The screen is rebuilt from the log.
    const screen = await after.screen(live.sessionId);
    expect(screen.text).toContain('line 500 of the live session');
    expect(screen.cols).toBe(90);

    // A lost session takes no input, with a clear error; removing it works.
    await expect(after.write(live.sessionId, 'x')).rejects.toThrow(/lost/);
    await after.remove(live.sessionId);
    expect((await after.list()).some((s) => s.id === live.sessionId)).toBe(false);

    // New sessions work on the restarted daemon.
    const fresh = await after.createSession({ shell: '/bin/sh', args: ['-c', 'echo again; sleep 5'] });
    await waitFor(
      async () => (await after.screen(fresh.sessionId)).text.includes('again'),
      'fresh session output',
    );
    after.end();
  });

  it('a graceful stop records running sessions as exited, not lost', async () => {
    const client = await daemon.connect();
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'sleep 3600'] });
    client.end();
    await daemon.stop();
    await daemon.restart();
    const after = await daemon.connect();
    const info = (await after.list()).find((s) => s.id === sessionId);
    expect(info?.status).toBe('exited');
    expect(info?.exit_signal).not.toBeNull();
    after.end();
  });
});
