/**
 * Damaged state never keeps the daemon from starting: a tower.db with a bad header or a truncated page
 * is moved aside and the session list rebuilt from the journals (meta.json beside each); a malformed row
 * is skipped with a warning (its session rebuilt the same way); a segment that fails its checksum is
 * reported and never served.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../dist/protocol/socket.js';
import { runCli } from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

describe('damaged state', () => {
  let daemon: TestDaemon;
  let ids: string[];

  /** Two ended sessions with known output and a running one, then a clean stop. */
  beforeEach(async () => {
    daemon = await startTestDaemon({ serveArgs: ['--no-http', '--log-cap-mib', '1'] });
    const client = await daemon.connect();
    ids = [];
    for (const word of ['alpha', 'beta']) {
      const { sessionId } = await client.createSession({
        name: `named-${word}`,
        shell: '/bin/sh',
        args: ['-c', `for i in $(seq 1 4000); do echo ${word}-$i-${'y'.repeat(90)}; done`],
        cwd: '/tmp',
      });
      ids.push(sessionId);
      await waitFor(
        async () => (await client.list()).find((s) => s.id === sessionId)?.status === 'exited',
        word,
      );
    }
    client.end();
    await daemon.stop();
  });
  afterEach(async () => {
    await daemon.dispose();
  });

  const db = () => join(daemon.stateDir, 'tower.db');

  const expectRebuilt = async (sessions: SessionInfo[]) => {
    for (const [index, word] of ['alpha', 'beta'].entries()) {
      const session = sessions.find((s) => s.id === ids[index]);
      expect(session, `session ${word}`).toMatchObject({
        name: `named-${word}`,
        cwd: '/tmp',
        shell: '/bin/sh',
      });
      expect(session!.status).toBe('exited');
    }
    const client = await daemon.connect();
    expect((await readAllOutput(client, ids[1]!)).toString()).toContain('beta-4000-');
    client.end();
  };

  it('a bad header: the file is moved aside and the sessions are rebuilt from their journals', async () => {
    const fd = openSync(db(), 'r+');
    writeSync(fd, Buffer.from('this is not an SQLite database header at all'), 0, 44, 0);
    closeSync(fd);
    await daemon.restart();
    expect(daemon.output()).toMatch(/tower\.db is damaged .*moved it to .*tower\.db\.damaged-/);
    expect(readdirSync(daemon.stateDir).some((name) => name.startsWith('tower.db.damaged-'))).toBe(true);
    const client = await daemon.connect();
    await expectRebuilt(await client.list());
    client.end();
    // The new database holds them: the next start needs no rebuilding.
    await daemon.stop();
    await daemon.restart();
    expect(daemon.output()).not.toMatch(/rebuilt session/);
  });

  it('a truncated page: the same', async () => {
    const size = statSync(db()).size;
    expect(size).toBeGreaterThan(4096);
    truncateSync(db(), Math.floor(size / 2) + 100);
    await daemon.restart();
    const client = await daemon.connect();
    await expectRebuilt(await client.list());
    client.end();
  });

  it('a row with bad JSON or an unknown status is skipped with a warning; the API never sees it', async () => {
    const database = new Database(db());
    database.prepare("UPDATE sessions SET args = '{not json' WHERE id = ?").run(ids[0]);
    database.prepare("UPDATE sessions SET status = 'exploded' WHERE id = ?").run(ids[1]);
    database.close();
    await daemon.restart();
    expect(daemon.output()).toMatch(new RegExp(`skipping stored session "${ids[0]}": its args are not JSON`));
    expect(daemon.output()).toMatch(new RegExp(`skipping stored session "${ids[1]}": status:`));
    const client = await daemon.connect();
    const sessions = await client.list();
    expect(sessions.map((s) => s.status).every((s) => ['running', 'exited', 'lost'].includes(s))).toBe(true);
    await expectRebuilt(sessions);
    client.end();
    const ls = await runCli(daemon.stateDir, ['ls', '--json']);
    expect(ls.stdout).not.toContain('exploded');
  });

  it('a session directory with no metadata at all is still listed, its output readable', async () => {
    rmSync(db());
    rmSync(join(daemon.stateDir, 'sessions', ids[0]!, 'meta.json'));
    await daemon.restart();
    const client = await daemon.connect();
    const orphan = (await client.list()).find((s) => s.id === ids[0]);
    expect(orphan).toMatchObject({ status: 'lost', shell: '(unknown)' });
    expect((await readAllOutput(client, ids[0]!)).toString()).toContain('alpha-4000-');
    client.end();
    expect(daemon.output()).toMatch(/command and cwd unknown/);
  });

  it('a segment that fails its checksum is reported, not served', async () => {
    const dir = join(daemon.stateDir, 'sessions', ids[1]!);
    const first = readdirSync(dir)
      .filter((name) => name.endsWith('.seg'))
      .sort()[0]!;
    expect(existsSync(join(dir, first.replace('.seg', '.sum')))).toBe(true);
    const fd = openSync(join(dir, first), 'r+');
    writeSync(fd, Buffer.from('CORRUPTED'), 0, 9, 1000);
    closeSync(fd);
    await daemon.restart();
    const client = await daemon.connect();
    const logs = await runCli(daemon.stateDir, ['logs', ids[1]!]);
    expect(logs.stdout).not.toContain('CORRUPTED');
    expect(logs.stderr).toMatch(/skipped bytes 0-\d+: they are damaged on disk/);
    const session = (await client.list()).find((s) => s.id === ids[1])!;
    expect(session.journal.gaps).toContainEqual(expect.objectContaining({ from: 0, reason: 'damaged' }));
    // The host says so in its log, which tower serve passes on as it comes.
    await waitFor(() => /is damaged on disk \(checksum mismatch\)/.test(daemon.output()), 'the warning');
    client.end();
    expect(readFileSync(join(dir, first)).includes('CORRUPTED')).toBe(true);
  });
  it('a stored size out of bounds is clamped; a sidecar naming another id is not taken for the row', async () => {
    const database = new Database(db());
    database.prepare('UPDATE sessions SET cols = 100000, rows = 100000 WHERE id = ?').run(ids[0]);
    database.prepare("UPDATE sessions SET status = 'running' WHERE id = ?").run(ids[1]);
    database.close();
    const sidecar = join(daemon.stateDir, 'sessions', ids[1]!, 'meta.json');
    const meta = JSON.parse(readFileSync(sidecar, 'utf8'));
    writeFileSync(sidecar, JSON.stringify({ ...meta, id: '../../evil' }));
    await daemon.restart();
    const client = await daemon.connect();
    const sessions = await client.list();
    expect(sessions.find((s) => s.id === ids[0])).toMatchObject({ cols: 500, rows: 200 });
    expect(sessions.map((s) => s.id)).not.toContain('../../evil');
    expect(sessions.find((s) => s.id === ids[1])).toMatchObject({ status: 'lost' });
    const screen = await client.screen(ids[0]!);
    expect(screen.cols).toBe(500);
    client.end();
  });
});
