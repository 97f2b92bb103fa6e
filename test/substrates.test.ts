/**
 * The substrate seam through the real daemon: `tower substrates` lists `local` and those of
 * substrates.json with their state; a bad file names the file and the field and never hides `local`
 * (nor its good entries); `tower spawn --on`, the socket's create_session and POST /api/sessions take a
 * substrate, SessionInfo says which, a restart keeps it; an unknown one is a clear error everywhere;
 * pipelined requests after a create_session find the session; and databases and meta.json files of
 * older versions (no substrate) read as local.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { sessionInfo } from './support/agents.js';
import { runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { apiJson } from './support/http.js';
import { b64, isType, RawClient } from './support/raw-socket.js';
import { failWithoutBwrap, HAVE_BWRAP, writeSubstrates } from './support/substrates.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-substrates-'));
const stateDir = join(scratch, 'state');
const workspace = join(scratch, 'workspace');
mkdirSync(stateDir, { mode: 0o700 });
mkdirSync(workspace);

let daemon: TestDaemon;
let client: TowerClient;
let token: string;

const ended = (id: string) =>
  waitFor(async () => {
    const info = await sessionInfo(client, id);
    return info.status !== 'running' && info;
  }, `session ${id} to end`);

beforeAll(async () => {
  daemon = await startTestDaemon({ stateDir });
  client = await daemon.connect();
  token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
});

afterAll(async () => {
  client?.end();
  await daemon?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('substrates.json', () => {
  it('without one, `local` alone, ready', async () => {
    const listed = await runCli(stateDir, ['substrates']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^SUBSTRATE +TYPE +STATE +BOOTSTRAP +ISOLATED +NETWORK +DETAIL\nlocal +local +ready +- +no +on +/,
    );
    expect((await client.substrates()).config_error).toBeNull();
  });

  it('a file that is not JSON is named, and `local` stays', async () => {
    writeSubstrates(stateDir, '{"substrates": [');
    const { substrates, config_error } = await client.substrates();
    expect(substrates.map((substrate) => substrate.name)).toEqual(['local']);
    expect(config_error).toMatch(/^substrates\.json: not valid JSON: /);
    const listed = await runCli(stateDir, ['substrates']);
    expect(listed.stdout).toContain('local');
    expect(listed.stderr).toMatch(/^tower: substrates\.json: not valid JSON/);
  });

  it('each bad entry is named by its field; the good ones and `local` are there', async () => {
    writeSubstrates(stateDir, [
      { name: 'box', type: 'sandbox', network: false },
      { name: 'wrong', type: 'sandbox', network: 'no' },
      { name: 'local', type: 'sandbox' },
      { name: 'far', type: 'cloud' },
      { name: 'box', type: 'sandbox' },
      { name: 'Bad Name', type: 'sandbox' },
    ]);
    const { substrates, config_error } = await client.substrates();
    expect(substrates.map((substrate) => substrate.name)).toEqual(['local', 'box']);
    expect(config_error).toContain('substrates.json: substrates.1.network: Invalid input: expected boolean');
    expect(config_error).toContain('substrates.2.name: "local" is built in');
    expect(config_error).toContain("substrates.3.type: Invalid discriminator value. Expected 'sandbox'");
    expect(config_error).toContain('substrates.4.name: "box" is declared twice');
    expect(config_error).toContain('substrates.5.name: must be a substrate name');
    const error = await client
      .createSession({ substrate: 'wrong', shell: '/bin/true' })
      .catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'unknown_substrate' });
    expect((error as Error).message).toMatch(
      /^unknown substrate: wrong; known: local, box \(substrates\.json: substrates\.1\.network: /,
    );
  });

  it('says what it hides and lets through: `tower substrates --json`', async () => {
    writeSubstrates(stateDir, [{ name: 'box', type: 'sandbox', network: false }]);
    const listed = await runCli(stateDir, ['substrates', '--json']);
    const { substrates, config_error } = JSON.parse(listed.stdout);
    expect(config_error).toBeNull();
    expect(substrates[1]).toMatchObject({
      name: 'box',
      type: 'sandbox',
      capabilities: { isolated: true, network: false, exec: true, stream_exec: true, reattach: false },
      detail: 'bubblewrap, network off',
    });
    expect(substrates[1].state).toBe(HAVE_BWRAP ? 'ready' : 'error');
  });
});

describe('spawning on a substrate', () => {
  beforeAll(() => writeSubstrates(stateDir, [{ name: 'box', type: 'sandbox', network: false }]));

  it('an unknown substrate is refused by the CLI, the socket and HTTP, naming the known ones', async () => {
    const cli = await runCli(stateDir, ['spawn', '--on', 'nowhere', '--', '/bin/true']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe('tower: unknown substrate: nowhere; known: local, box\n');
    const http = await apiJson(daemon.httpUrl!, '/api/sessions', {
      method: 'POST',
      token,
      body: { command: '/bin/true', substrate: 'nowhere' },
    });
    expect(http).toMatchObject({ status: 400, json: { error: 'unknown_substrate' } });
    const badName = await apiJson(daemon.httpUrl!, '/api/sessions', {
      method: 'POST',
      token,
      body: { command: '/bin/true', substrate: '../x' },
    });
    expect(badName).toMatchObject({ status: 400, json: { error: 'bad_request' } });
    expect(String(badName.json.message)).toContain('substrate: must be a substrate name');
  });

  it('local is the default, and SessionInfo says so', async () => {
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'echo hi'] });
    expect(await ended(sessionId)).toMatchObject({ substrate: 'local', exit_code: 0 });
  });

  it('GET /api/substrates lists them', async () => {
    const listed = await apiJson(daemon.httpUrl!, '/api/substrates', { token });
    expect(listed.status).toBe(200);
    expect((listed.json.substrates as { name: string }[]).map((substrate) => substrate.name)).toEqual([
      'local',
      'box',
    ]);
  });

  failWithoutBwrap('spawning on a sandbox');

  describe.runIf(HAVE_BWRAP)('on a sandbox', () => {
    it('tower spawn --on, then ls --json, say where it runs; a restart runs there again', async () => {
      const spawned = await runCli(
        stateDir,
        ['spawn', '--on', 'box', '--cwd', workspace, '--', '/bin/sh', '-c', 'exit 4'],
        {},
      );
      expect(spawned.code).toBe(0);
      const id = spawned.stdout.trim();
      expect(await ended(id)).toMatchObject({ substrate: 'box', exit_code: 4 });
      const ls = JSON.parse((await runCli(stateDir, ['ls', '--json'])).stdout) as {
        id: string;
        substrate: string;
      }[];
      expect(ls.find((session) => session.id === id)?.substrate).toBe('box');
      const again = await client.restart(id);
      expect(await ended(again)).toMatchObject({ substrate: 'box', resumed_from: id });
    });

    it('POST /api/sessions with a substrate', async () => {
      const created = await apiJson(daemon.httpUrl!, '/api/sessions', {
        method: 'POST',
        token,
        body: { command: '/bin/sh', args: ['-c', 'echo boxed'], substrate: 'box', cwd: workspace },
      });
      expect(created.status).toBe(201);
      expect(created.json.session).toMatchObject({ substrate: 'box' });
    });

    it('requests pipelined after create_session find the session (agor-pty clients do not wait)', async () => {
      const raw = await RawClient.authenticated(daemon.socketPath, stateDir);
      const since = raw.mark();
      raw.send(
        [
          { type: 'create_session', id: 'piped', shell: '/bin/cat', substrate: 'box', cwd: workspace },
          { type: 'subscribe', session_id: 'piped' },
          { type: 'write_input', session_id: 'piped', data: b64('through the pipe\r') },
        ]
          .map((message) => JSON.stringify(message))
          .join('\n'),
      );
      await raw.waitFor(
        (message) =>
          message.type === 'session_output' &&
          Buffer.from(String(message.data), 'base64').toString().includes('through the pipe'),
        { since },
      );
      expect(raw.since(since).map((message) => message.type)[0]).toBe('session_created');
      expect(raw.since(since).some((message) => message.type === 'error')).toBe(false);
      raw.send({ type: 'close_session', session_id: 'piped' });
      await raw.waitFor(isType('session_closed', 'piped'), { since });
      raw.end();
    });
  });
});

describe('older state', () => {
  it('a database without the substrate column, and meta.json without the field, read as local', async () => {
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'echo old'] });
    await ended(sessionId);
    client.end();
    await daemon.stop();
    const database = new Database(join(stateDir, 'tower.db'));
    database.exec('ALTER TABLE sessions DROP COLUMN substrate');
    database.close();
    const sidecar = join(stateDir, 'sessions', sessionId, 'meta.json');
    const { substrate: _dropped, ...older } = JSON.parse(readFileSync(sidecar, 'utf8'));
    writeFileSync(sidecar, JSON.stringify(older));
    await daemon.restart();
    client = await daemon.connect();
    expect(await sessionInfo(client, sessionId)).toMatchObject({ substrate: 'local', status: 'exited' });
    // And from meta.json alone, when tower.db is gone.
    client.end();
    await daemon.stop();
    rmSync(join(stateDir, 'tower.db'));
    await daemon.restart();
    client = await daemon.connect();
    expect(await sessionInfo(client, sessionId)).toMatchObject({ substrate: 'local', status: 'exited' });
  });
});
