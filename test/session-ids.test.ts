/**
 * A session id names a directory under <state-dir>/sessions/. No id — given by a client or read back
 * from the database — may name anything else: `.` and `..` once deleted every journal, or the token
 * and the database with them.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { api } from './support/http.js';
import { readTokenFile } from './support/raw-socket.js';

describe('session ids are safe path components', () => {
  let daemon: TestDaemon | undefined;

  afterEach(async () => {
    await daemon?.dispose();
    daemon = undefined;
  });

  /** A session whose journal must survive every attempt below. */
  const witness = async (d: TestDaemon) => {
    const client = await d.connect();
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'echo witness'] });
    client.end();
    return sessionId;
  };

  const intact = (d: TestDaemon, id: string) => {
    expect(existsSync(join(d.stateDir, 'token')), 'token file').toBe(true);
    expect(existsSync(join(d.stateDir, 'tower.db')), 'database').toBe(true);
    expect(readdirSync(join(d.stateDir, 'sessions'))).toContain(id);
  };

  it.each(['.', '..', '-rf', '.hidden', 'a/b', 'a\\b', ' x', 'x\u0000'])(
    'create_session refuses id %j with a clear error',
    async (id) => {
      daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
      const keep = await witness(daemon);
      const client = await daemon.connect();
      const created = client.createSession({ id, shell: '/bin/sh', args: ['-c', 'true'] });
      await expect(created).rejects.toMatchObject({ code: 'bad_message' });
      await expect(created).rejects.toThrow(/id: must start with a letter or digit/);
      await expect(client.remove(id)).rejects.toMatchObject({ code: 'unknown_session' });
      client.end();
      intact(daemon, keep);
    },
  );

  it('tower rm .. and DELETE /api/sessions/..?remove=1 remove nothing', async () => {
    daemon = await startTestDaemon();
    const keep = await witness(daemon);
    // The attack: a session named '..' (refused now), then asking to forget it.
    const client = await daemon.connect();
    for (const id of ['..', '.']) {
      await client.createSession({ id, shell: '/bin/sh', args: ['-c', 'true'] }).catch(() => {});
    }
    client.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rm = await runCli(daemon.stateDir, ['rm', '..']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/unknown session/);
    for (const path of [
      '/api/sessions/..?remove=1',
      '/api/sessions/.?remove=1',
      '/api/sessions/%2e%2e?remove=1',
    ]) {
      const response = await api(daemon.httpUrl!, path, {
        method: 'DELETE',
        token: readTokenFile(daemon.stateDir),
      });
      expect(response.status, path).toBeGreaterThanOrEqual(400);
    }
    intact(daemon, keep);
  });

  it('a stored row with an unsafe id is skipped with a warning, and its removal touches nothing', async () => {
    daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
    const keep = await witness(daemon);
    await daemon.stop();
    const db = new Database(join(daemon.stateDir, 'tower.db'));
    const row = db.prepare('SELECT * FROM sessions WHERE id = ?').get(keep) as Record<string, unknown>;
    for (const id of ['..', '.', '../escape']) db.prepare(insertLike(row)).run({ ...row, id });
    db.close();
    // Something outside sessions/ that a '../escape' journal path would reach.
    mkdirSync(join(daemon.stateDir, 'escape'));
    writeFileSync(join(daemon.stateDir, 'escape', 'precious'), 'keep me');
    await daemon.restart();
    const client = await daemon.connect();
    const ids = (await client.list()).map((session) => session.id);
    expect(ids).toContain(keep);
    expect(ids).not.toContain('..');
    expect(ids).not.toContain('.');
    expect(ids).not.toContain('../escape');
    expect(daemon.output()).toMatch(/skipping stored session "\.\.": unsafe id/);
    for (const id of ['..', '.', '../escape'])
      await expect(client.remove(id)).rejects.toMatchObject({ code: 'unknown_session' });
    client.end();
    intact(daemon, keep);
    expect(existsSync(join(daemon.stateDir, 'escape', 'precious'))).toBe(true);
  });
});

function insertLike(row: Record<string, unknown>): string {
  const columns = Object.keys(row);
  return `INSERT INTO sessions (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;
}
