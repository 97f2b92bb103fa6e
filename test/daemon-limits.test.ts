/**
 * Limits the daemon keeps, each with a clear error past it: terminal size, running sessions, optional
 * per-session process limits. And a resize or input after the program let go of its terminal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { MAX_COLS, MAX_ROWS } from '../dist/protocol/limits.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { api } from './support/http.js';
import { readTokenFile } from './support/raw-socket.js';

describe('daemon limits', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    daemon = await startTestDaemon({ serveArgs: ['--max-sessions', '3', '--limit', 'nofile=64'] });
    client = await daemon.connect();
  });
  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  const sleeper = async () =>
    (await client.createSession({ shell: '/bin/sh', args: ['-c', 'exec sleep 60'] })).sessionId;

  it('refuses a terminal larger than the bound, naming it', async () => {
    const id = await sleeper();
    await expect(client.resize(id, MAX_COLS + 1, 24)).rejects.toThrow(new RegExp(`cols.*${MAX_COLS}`));
    await expect(client.resize(id, 80, MAX_ROWS + 1)).rejects.toThrow(new RegExp(`rows.*${MAX_ROWS}`));
    await expect(client.resize(id, 1000, 1000)).rejects.toMatchObject({ code: 'bad_message' });
    await client.resize(id, MAX_COLS, MAX_ROWS);
    await expect(client.createSession({ shell: '/bin/sh', cols: 1000, rows: 1000 })).rejects.toMatchObject({
      code: 'bad_message',
    });
    await client.close(id);
  });

  it('refuses a session past --max-sessions running, over the socket and HTTP', async () => {
    const running = (await client.list()).filter((s) => s.status === 'running').length;
    const started: string[] = [];
    for (let i = running; i < 3; i++) started.push(await sleeper());
    await expect(sleeper()).rejects.toMatchObject({ code: 'too_many_sessions' });
    await expect(sleeper()).rejects.toThrow(/3 sessions are running.*--max-sessions/);
    const response = await api(daemon.httpUrl!, '/api/sessions', {
      method: 'POST',
      token: readTokenFile(daemon.stateDir),
      body: { command: '/bin/true' },
    });
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ error: 'too_many_sessions' });
    // Ended sessions do not count.
    await client.close(started[0]!);
    await client.close(await sleeper());
    for (const id of started.slice(1)) await client.close(id);
  });

  it('applies --limit to every session process (prlimit)', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'echo nofile=$(ulimit -n)'],
    });
    await waitFor(
      async () => (await readAllOutput(client, sessionId, 0)).toString().includes('nofile='),
      'ulimit',
    );
    expect((await readAllOutput(client, sessionId, 0)).toString()).toContain('nofile=64');
    const session = (await client.list()).find((s) => s.id === sessionId)!;
    expect(session.shell).toBe('/bin/sh');
  });

  it('ended sessions past the sixteen kept in memory rest, and come back from disk when asked', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', `echo ended-${i}`] });
      ids.push(sessionId);
      // One at a time: this daemon runs at most three.
      await waitFor(
        async () => (await client.list()).find((s) => s.id === sessionId)?.status === 'exited',
        sessionId,
      );
    }
    // The first ones have been let go: their screen is rebuilt from the journal, and reads come from disk.
    expect((await client.screen(ids[0]!)).text).toContain('ended-0');
    expect((await readAllOutput(client, ids[1]!, 0)).toString()).toContain('ended-1');
    expect((await client.screen(ids[19]!)).text).toContain('ended-19');
  });

  it('a resize after the program closed its terminal answers session_not_running, not EBADF', async () => {
    // The program lets go of the terminal but keeps running: the PTY closes long before the exit.
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'trap "" HUP; echo closing; exec 0<&- 1>&- 2>&-; exec sleep 3'],
    });
    await waitFor(
      async () => (await readAllOutput(client, sessionId, 0)).toString().includes('closing'),
      'closing',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const failure = await client.resize(sessionId, 100, 30).then(
      () => null,
      (error: { code: string; message: string }) => error,
    );
    expect(failure?.code).toBe('session_not_running');
    expect(failure?.message).toMatch(/terminal is closed/);
    await expect(client.write(sessionId, 'x')).rejects.toMatchObject({ code: 'session_not_running' });
  });
});
