/**
 * Bad input on the Unix socket: every bad line gets one clear `error` (specific message, documented
 * code), the connection stays usable, and nothing else breaks: a session started at the beginning
 * keeps running through all of it and the daemon keeps serving new clients.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, MAX_LINE_BYTES } from '../dist/protocol/socket.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { b64, isType, RawClient, readTokenFile, type WireMessage } from './support/raw-socket.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bad input gets a clear error and breaks nothing', () => {
  let daemon: TestDaemon;
  let scratch: string;
  /** Connection that owns the long-running `cat` session, subscribed to it from the start. */
  let owner: RawClient;
  const LONG_ID = 'long-running-cat';
  const clients: RawClient[] = [];

  const track = (client: RawClient) => {
    clients.push(client);
    return client;
  };
  const authed = async () => track(await RawClient.authenticated(daemon.socketPath, daemon.stateDir));
  const raw = async () => track(await RawClient.connect(daemon.socketPath));

  /**
   * Send one line; expect exactly one `error` with this code and a message matching every pattern, and
   * nothing else in reply (checked with a ping after it). Returns the error.
   */
  const expectOnlyError = async (
    client: RawClient,
    line: object | string,
    code: ErrorCode,
    ...patterns: RegExp[]
  ): Promise<WireMessage> => {
    const since = client.mark();
    const error = await client.expectError(line);
    await client.sync();
    expect(ErrorCode.options).toContain(code);
    expect(error.code, JSON.stringify(error)).toBe(code);
    expect(typeof error.message).toBe('string');
    expect(String(error.message).length).toBeGreaterThan(10);
    for (const pattern of patterns) expect(error.message).toMatch(pattern);
    const replies = client.since(since).filter((m) => !client.syncReplies.has(m));
    expect(replies, 'exactly one reply to the bad line').toEqual([error]);
    return error;
  };

  beforeAll(async () => {
    daemon = await startTestDaemon();
    scratch = mkdtempSync(join(tmpdir(), 'tower-bad-input-'));
    owner = await authed();
    const created = await owner.request(
      { type: 'create_session', id: LONG_ID, shell: 'cat', cwd: scratch },
      (m) => m.type === 'session_created' || m.type === 'error',
    );
    expect(created.type, JSON.stringify(created)).toBe('session_created');
    owner.send({ type: 'subscribe', session_id: LONG_ID });
    await owner.sync();
    const since = owner.mark();
    owner.send({ type: 'write_input', session_id: LONG_ID, data: b64('first-line\n') });
    await owner.waitForOutput(LONG_ID, /first-line[\s\S]*first-line/, { since });
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await daemon?.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  describe('framing and message shape', () => {
    const cases: Array<[string, string, ErrorCode, RegExp]> = [
      ['malformed JSON', '{nope', 'bad_json', /JSON/],
      ['truncated JSON', '{"type":"ping"', 'bad_json', /JSON/],
      ['a JSON array', '[{"type":"ping"}]', 'bad_message', /"type"/],
      ['a JSON string', '"ping"', 'bad_message', /"type"/],
      ['JSON null', 'null', 'bad_message', /"type"/],
      ['a JSON number', '42', 'bad_message', /"type"/],
      ['an object with no type', '{"session_id":"x"}', 'bad_message', /"type"/],
      ['a non-string type', '{"type":5}', 'bad_message', /"type"/],
      ['an unknown type', '{"type":"frobnicate"}', 'bad_message', /unknown message type: frobnicate/],
      [
        'a daemon-only type sent by a client',
        '{"type":"session_output"}',
        'bad_message',
        /unknown message type/,
      ],
    ];
    it.each(cases)('%s → error %s', async (_name, line, code, pattern) => {
      const client = await authed();
      await expectOnlyError(client, line, code, pattern);
    });

    it('blank and whitespace-only lines are ignored, not answered', async () => {
      const client = await authed();
      const since = client.mark();
      client.send('\n  \n\t\n');
      await client.sync();
      expect(client.since(since).map((m) => m.type)).toEqual(['pong']);
    });

    it('many bad lines in one write: one error each, then the connection still works', async () => {
      const client = await authed();
      const since = client.mark();
      client.send('{nope\n[]\n{"type":"frobnicate"}\n{"type":"resize"}\n{"type":"ping"}\n');
      await client.waitFor(isType('pong'), { since });
      await client.sync();
      const errors = client.since(since).filter(isType('error'));
      expect(errors.map((e) => e.code)).toEqual(['bad_json', 'bad_message', 'bad_message', 'bad_message']);
    });
  });

  describe('wrong field types and missing fields', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp[]]> = [
      [
        'resize cols as a string',
        { type: 'resize', session_id: LONG_ID, cols: '80', rows: 24 },
        [/resize/, /cols/],
      ],
      ['resize cols 0', { type: 'resize', session_id: LONG_ID, cols: 0, rows: 24 }, [/cols/]],
      ['resize rows fractional', { type: 'resize', session_id: LONG_ID, cols: 80, rows: 2.5 }, [/rows/]],
      ['resize rows missing', { type: 'resize', session_id: LONG_ID, cols: 80 }, [/rows/]],
      [
        'write_input session_id a number',
        { type: 'write_input', session_id: 5, data: 'eA==' },
        [/session_id/],
      ],
      ['write_input data a number', { type: 'write_input', session_id: LONG_ID, data: 123 }, [/data/]],
      ['write_input data missing', { type: 'write_input', session_id: LONG_ID }, [/data/]],
      ['write_input session_id missing', { type: 'write_input', data: 'eA==' }, [/session_id/]],
      ['write_input session_id empty', { type: 'write_input', session_id: '', data: 'eA==' }, [/session_id/]],
      ['subscribe session_id missing', { type: 'subscribe' }, [/subscribe/, /session_id/]],
      ['close_session session_id null', { type: 'close_session', session_id: null }, [/session_id/]],
      ['create_session cols as a string', { type: 'create_session', cols: '80' }, [/create_session/, /cols/]],
      ['create_session id with a slash', { type: 'create_session', id: '../escape' }, [/\bid\b/]],
      ['create_session env value a number', { type: 'create_session', env: { FOO: 1 } }, [/env/]],
      ['create_session shell empty', { type: 'create_session', shell: '' }, [/shell/]],
      ['auth without a token', { type: 'auth' }, [/auth/, /token/]],
    ];
    it.each(cases)('%s → bad_message naming the field', async (_name, message, patterns) => {
      const client = await authed();
      const error = await expectOnlyError(client, { ...message, req_id: 'r-1' }, 'bad_message', ...patterns);
      expect(error.req_id, 'the error echoes the req_id').toBe('r-1');
    });
  });

  describe('oversize lines', () => {
    const padded = (type: string, totalBytes: number) => {
      const head = `{"type":"${type}","pad":"`;
      const tail = '"}';
      return head + 'a'.repeat(totalBytes - head.length - tail.length) + tail;
    };

    it('a 1.5 MiB line → too_large, the line is skipped, and the same connection still works', async () => {
      const client = await authed();
      const since = client.mark();
      // If any of it were handled, list_sessions would get a session_list.
      const error = await client.expectError(padded('list_sessions', 1.5 * 1024 * 1024));
      expect(error.code).toBe('too_large');
      expect(error.message).toMatch(/too large/);
      expect(await client.request({ type: 'ping' }, isType('pong'))).toMatchObject({ type: 'pong' });
      await sleep(100);
      await client.sync();
      expect(client.since(since).map((m) => m.type)).toEqual(['error', 'pong', 'pong']);
    });

    it('an oversize line followed by a good line in the same write: only the good line is handled', async () => {
      const client = await authed();
      const since = client.mark();
      client.send(`${padded('list_sessions', 3 * 1024 * 1024)}\n{"type":"ping"}\n`);
      await client.waitFor(isType('pong'), { since });
      await client.sync();
      expect(client.since(since).map((m) => [m.type, m.code])).toEqual([
        ['error', 'too_large'],
        ['pong', undefined],
        ['pong', undefined],
      ]);
    });

    it('an oversize line arriving in slow pieces gets one too_large, then the connection works', async () => {
      const client = await authed();
      const since = client.mark();
      const line = padded('list_sessions', 2 * 1024 * 1024);
      for (let i = 0; i < line.length; i += 256 * 1024) {
        client.socket.write(line.slice(i, i + 256 * 1024));
        await sleep(20);
      }
      client.socket.write('\n');
      await client.sync();
      expect(client.since(since).map((m) => [m.type, m.code])).toEqual([
        ['error', 'too_large'],
        ['pong', undefined],
      ]);
    });

    it('a line of exactly the limit is still accepted', async () => {
      const client = await authed();
      const line = padded('ping', MAX_LINE_BYTES);
      expect(Buffer.byteLength(line)).toBe(MAX_LINE_BYTES);
      await client.request(line, isType('pong'));
    });
  });

  describe('invalid base64', () => {
    it.each([
      ['characters outside the alphabet', 'not base64!!'],
      ['a length that is not a multiple of 4', 'abc'],
      ['padding in the middle', 'YQ==YQ=='],
    ])('write_input with %s → bad_message about base64', async (_name, data) => {
      const client = await authed();
      await expectOnlyError(
        client,
        { type: 'write_input', session_id: LONG_ID, data },
        'bad_message',
        /base64/,
        /data/,
      );
    });
  });

  describe('unknown sessions', () => {
    const ID = 'no-such-session';
    const cases: Array<[string, Record<string, unknown>]> = [
      ['write_input', { type: 'write_input', session_id: ID, data: b64('hi\n') }],
      ['resize', { type: 'resize', session_id: ID, cols: 80, rows: 24 }],
      ['subscribe', { type: 'subscribe', session_id: ID }],
      ['close_session', { type: 'close_session', session_id: ID }],
      ['get_snapshot', { type: 'get_snapshot', session_id: ID }],
      ['read_output', { type: 'read_output', session_id: ID }],
      ['read_screen', { type: 'read_screen', session_id: ID }],
      ['remove_session', { type: 'remove_session', session_id: ID }],
    ];
    it.each(cases)('%s → unknown_session', async (_name, message) => {
      const client = await authed();
      const error = await expectOnlyError(
        client,
        message,
        'unknown_session',
        /unknown session/,
        new RegExp(ID),
      );
      expect(error.session_id).toBe(ID);
    });

    it('write_input and resize to an exited session → session_not_running', async () => {
      const client = await authed();
      const id = 'exits-at-once';
      const created = await client.request(
        { type: 'create_session', id, shell: 'true', cwd: scratch },
        (m) => m.type === 'session_created' || m.type === 'error',
      );
      expect(created.type, JSON.stringify(created)).toBe('session_created');
      const since = client.mark();
      client.send({ type: 'subscribe', session_id: id });
      await client.waitFor(isType('session_closed', id), { since });
      await expectOnlyError(
        client,
        { type: 'write_input', session_id: id, data: b64('x') },
        'session_not_running',
        /exited/,
      );
      await expectOnlyError(
        client,
        { type: 'resize', session_id: id, cols: 90, rows: 20 },
        'session_not_running',
        /exited/,
      );
    });
  });

  describe('create_session that cannot start', () => {
    it('a nonexistent cwd, a cwd that is a file, a nonexistent command: clear errors, no session left behind', async () => {
      const client = await authed();
      const file = join(scratch, 'a-file');
      writeFileSync(file, 'not a directory\n');
      const missing = join(scratch, 'does', 'not', 'exist');
      await expectOnlyError(
        client,
        { type: 'create_session', id: 'bad-cwd-1', shell: '/bin/sh', cwd: missing },
        'bad_cwd',
        /cwd/,
        /does not exist/,
        new RegExp(missing),
      );
      await expectOnlyError(
        client,
        { type: 'create_session', id: 'bad-cwd-2', shell: '/bin/sh', cwd: file },
        'bad_cwd',
        /cwd/,
        /not a directory/,
      );
      await expectOnlyError(
        client,
        { type: 'create_session', id: 'bad-cmd-1', shell: 'tower-no-such-command-xyz', cwd: scratch },
        'command_not_found',
        /command not found/,
        /tower-no-such-command-xyz/,
      );
      await expectOnlyError(
        client,
        { type: 'create_session', id: 'bad-cmd-2', shell: '/nonexistent/bin/thing', cwd: scratch },
        'command_not_found',
        /command not found/,
      );
      await expectOnlyError(
        client,
        { type: 'create_session', id: 'bad-cmd-3', shell: file, cwd: scratch },
        'command_not_found',
        /not executable/,
      );
      const list = await client.request({ type: 'list_sessions' }, isType('session_list'));
      const ids = (list.sessions as Array<{ id: string }>).map((s) => s.id);
      for (const id of ['bad-cwd-1', 'bad-cwd-2', 'bad-cmd-1', 'bad-cmd-2', 'bad-cmd-3'])
        expect(ids).not.toContain(id);
    });

    it('a duplicate id → session_exists, and the original session is untouched', async () => {
      const client = await authed();
      const list = await client.request({ type: 'list_sessions' }, isType('session_list'));
      const before = (list.sessions as Array<{ id: string; pid: number }>).find((s) => s.id === LONG_ID);
      await expectOnlyError(
        client,
        { type: 'create_session', id: LONG_ID, shell: '/bin/sh', cwd: scratch },
        'session_exists',
        /already exists/,
        new RegExp(LONG_ID),
      );
      const after = await client.request({ type: 'list_sessions' }, isType('session_list'));
      const same = (after.sessions as Array<{ id: string; pid: number; status: string }>).find(
        (s) => s.id === LONG_ID,
      );
      expect(same?.pid).toBe(before?.pid);
      expect(same?.status).toBe('running');
    });
  });

  describe('authentication', () => {
    it('any message before auth → not_authenticated, the connection stays open, then a correct auth works', async () => {
      const client = await raw();
      await expectOnlyError(client, { type: 'list_sessions' }, 'not_authenticated', /authenticat/);
      await expectOnlyError(
        client,
        { type: 'create_session', id: 'sneaky', shell: '/bin/sh', cwd: scratch },
        'not_authenticated',
        /authenticat/,
      );
      await expectOnlyError(
        client,
        { type: 'write_input', session_id: LONG_ID, data: b64('sneaky-input\n') },
        'not_authenticated',
        /authenticat/,
      );
      expect(client.isClosed).toBe(false);
      const token = readTokenFile(daemon.stateDir);
      const ok = await client.request({ type: 'auth', token }, isType('auth_result'));
      expect(ok.ok).toBe(true);
      await client.request({ type: 'ping' }, isType('pong'));
      const list = await client.request({ type: 'list_sessions' }, isType('session_list'));
      expect((list.sessions as Array<{ id: string }>).map((s) => s.id)).not.toContain('sneaky');
      // The input sent before auth never reached the session.
      expect(owner.output(LONG_ID)).not.toMatch(/sneaky-input/);
    });

    it('a wrong token → auth_result ok:false and an auth_failed error; the third failure closes the connection', async () => {
      const client = await raw();
      for (let attempt = 1; attempt <= 3; attempt++) {
        const since = client.mark();
        const token = attempt === 2 ? '0'.repeat(64) : `wrong-${attempt}`;
        client.send({ type: 'auth', token });
        const result = await client.waitFor(isType('auth_result'), { since });
        expect(result.ok).toBe(false);
        const error = await client.waitFor(isType('error'), { since });
        expect(error.code).toBe('auth_failed');
        expect(error.message).toMatch(/wrong token/);
        if (attempt < 3) {
          // Still open, still unauthenticated.
          await expectOnlyError(client, { type: 'ping' }, 'not_authenticated', /authenticat/);
        }
      }
      await client.waitClosed(5_000);
      expect(client.isClosed).toBe(true);
    });

    it('two wrong tokens, then the right one → authenticated', async () => {
      const client = await raw();
      for (const token of ['nope', 'f'.repeat(64)]) {
        const result = await client.request({ type: 'auth', token }, isType('auth_result'));
        expect(result.ok).toBe(false);
      }
      const token = readTokenFile(daemon.stateDir);
      const result = await client.request({ type: 'auth', token }, isType('auth_result'));
      expect(result.ok).toBe(true);
      await client.request({ type: 'ping' }, isType('pong'));
    });
  });

  describe('peers that vanish', () => {
    it('peers destroyed abruptly mid-stream (reading, stalled, mid-line) leave the daemon and the session fine', async () => {
      const control = await authed();
      const busy = 'busy-writer';
      const created = await control.request(
        {
          type: 'create_session',
          id: busy,
          shell: 'yes',
          args: ['tower busy line 0123456789'],
          cwd: scratch,
        },
        (m) => m.type === 'session_created' || m.type === 'error',
      );
      expect(created.type, JSON.stringify(created)).toBe('session_created');

      for (let round = 0; round < 6; round++) {
        const peer = await authed();
        const since = peer.mark();
        peer.send({ type: 'subscribe', session_id: busy });
        await peer.waitForOutput(busy, /tower busy line/, { since });
        if (round % 2 === 1) {
          // Stop reading so the daemon has a backlog for this peer when it disappears.
          peer.socket.pause();
          await sleep(200);
        }
        if (round === 4) peer.socket.write('{"type":"write_input","session_id":"busy-wr');
        peer.destroy();
        await sleep(50);
      }
      // And one that vanishes right after connecting, before auth.
      (await raw()).destroy();

      await control.request({ type: 'ping' }, isType('pong'));
      const first = await control.request({ type: 'list_sessions' }, isType('session_list'));
      await sleep(200);
      const second = await control.request({ type: 'list_sessions' }, isType('session_list'));
      const info = (m: WireMessage) =>
        (m.sessions as Array<{ id: string; status: string; last_offset: number }>).find(
          (s) => s.id === busy,
        )!;
      expect(info(first).status).toBe('running');
      expect(info(second).last_offset, 'the busy session keeps producing output').toBeGreaterThan(
        info(first).last_offset,
      );

      const since = control.mark();
      control.send({ type: 'close_session', session_id: busy });
      const closed = await control.waitFor(isType('session_closed', busy), { since });
      expect(closed.session_id).toBe(busy);
      expect(daemon.process.exitCode).toBeNull();
    });
  });

  describe('after all of the above', () => {
    it('the session started at the beginning still echoes, a fresh client can list and create, the daemon is alive', async () => {
      expect(daemon.process.exitCode).toBeNull();
      expect(daemon.process.signalCode).toBeNull();
      expect(() => process.kill(daemon.process.pid!, 0)).not.toThrow();

      const since = owner.mark();
      owner.send({ type: 'write_input', session_id: LONG_ID, data: b64('still-alive-after-abuse\n') });
      await owner.waitForOutput(LONG_ID, /still-alive-after-abuse[\s\S]*still-alive-after-abuse/, { since });
      expect(owner.badLines).toEqual([]);

      const client = await daemon.connect();
      try {
        const sessions = await client.list();
        const long = sessions.find((s) => s.id === LONG_ID);
        expect(long?.status).toBe('running');
        const fresh = await client.createSession({ id: 'fresh-at-the-end', shell: '/bin/sh', cwd: scratch });
        expect(fresh.sessionId).toBe('fresh-at-the-end');
        expect(() => process.kill(fresh.pid, 0)).not.toThrow();
        expect((await client.list()).map((s) => s.id)).toContain('fresh-at-the-end');
        await client.close('fresh-at-the-end');
      } finally {
        client.end();
      }
      for (const c of clients) expect(c.badLines).toEqual([]);
    });
  });
});
