/**
 * A client written only from agor-pty's message set (README, "Protocol"): raw Unix socket,
 * newline-delimited JSON, no req_id, no extension fields or message types. Tower must
 * serve it fully and must never push a message type agor-pty does not define.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { b64, isType, RawClient, readTokenFile, type WireMessage } from './support/raw-socket.js';

/** Every message type an agor-pty daemon sends. */
const AGOR_DAEMON_TYPES = new Set([
  'auth_result',
  'session_created',
  'session_output',
  'session_closed',
  'session_list',
  'pong',
  'error',
]);

/** Checks the fields agor-pty defines for each message it knows. */
function expectAgorShape(message: WireMessage): void {
  expect(AGOR_DAEMON_TYPES.has(message.type), `unexpected message type ${message.type}`).toBe(true);
  switch (message.type) {
    case 'auth_result':
      expect(typeof message.ok).toBe('boolean');
      break;
    case 'session_created':
      expect(typeof message.session_id).toBe('string');
      expect(Number.isInteger(message.pid)).toBe(true);
      break;
    case 'session_output':
      expect(typeof message.session_id).toBe('string');
      expect(message.data).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
      break;
    case 'session_closed':
      expect(typeof message.session_id).toBe('string');
      expect(message.exit_code === null || Number.isInteger(message.exit_code)).toBe(true);
      break;
    case 'session_list':
      expect(Array.isArray(message.sessions)).toBe(true);
      break;
    case 'error':
      expect(typeof message.message).toBe('string');
      expect(String(message.message).length).toBeGreaterThan(0);
      break;
  }
}

/** Three times the daemon's 8 MiB in-memory output ring. */
const BIG_OUTPUT_BYTES = 24_000_000;

describe('an agor-pty client (no extensions) against Tower', () => {
  let daemon: TestDaemon;
  let workDir: string;
  const clients: RawClient[] = [];
  let counter = 0;

  const connect = async (): Promise<RawClient> => {
    const client = await RawClient.connect(daemon.socketPath);
    clients.push(client);
    const reply = await client.request(
      { type: 'auth', token: readTokenFile(daemon.stateDir) },
      (m) => m.type === 'auth_result',
    );
    expect(reply).toEqual({ type: 'auth_result', ok: true });
    return client;
  };

  /** create_session exactly as agor-pty sends it: a client-chosen id, a shell without args. */
  const createShell = async (client: RawClient, options: { cols?: number; rows?: number } = {}) => {
    const id = `agor-${process.pid}-${++counter}`;
    const created = await client.request(
      {
        type: 'create_session',
        id,
        shell: '/bin/sh',
        cwd: workDir,
        env: { FOO: 'bar', PS1: '$ ' },
        cols: options.cols ?? 100,
        rows: options.rows ?? 30,
      },
      (m) => m.type === 'session_created' || m.type === 'error',
    );
    expect(created.type, JSON.stringify(created)).toBe('session_created');
    expect(created.session_id).toBe(id);
    return { id, pid: created.pid as number };
  };

  /** Type a command line; returns the message index from which to look for its output. */
  const type = (client: RawClient, id: string, line: string): number => {
    const since = client.mark();
    client.send({ type: 'write_input', session_id: id, data: b64(`${line}\n`) });
    return since;
  };

  const subscribe = async (client: RawClient, id: string): Promise<void> => {
    client.send({ type: 'subscribe', session_id: id });
    // No req_id, no ack: a ping after it is answered only once the subscribe was handled.
    await client.sync();
  };

  beforeAll(async () => {
    daemon = await startTestDaemon();
    workDir = mkdtempSync(join(tmpdir(), 'tower-agor-cwd-'));
  });

  /** How many of each client's messages afterEach has already checked. */
  const checked = new Map<RawClient, number>();
  afterEach(() => {
    for (const client of clients) {
      expect(client.badLines, 'every line the daemon sent is one JSON object with a type').toEqual([]);
      for (const message of client.messages.slice(checked.get(client) ?? 0)) expectAgorShape(message);
      checked.set(client, client.messages.length);
    }
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await daemon?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('auth first → auth_result ok:true; ping → pong; list_sessions → session_list', async () => {
    const client = await connect();
    expect(await client.request({ type: 'ping' }, isType('pong'))).toEqual({ type: 'pong' });
    const list = await client.request({ type: 'list_sessions' }, isType('session_list'));
    expect(Array.isArray(list.sessions)).toBe(true);
  });

  it('create_session with id, shell, cwd, env, cols, rows: env, size, resize and cwd are honored', async () => {
    const client = await connect();
    const { id, pid } = await createShell(client);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).not.toThrow();

    await subscribe(client, id);

    let since = type(client, id, 'echo "E1:$FOO"');
    await client.waitForOutput(id, /E1:bar/, { since });

    since = type(client, id, 'echo "S1:$(stty size)"');
    await client.waitForOutput(id, /S1:30 100/, { since });

    client.send({ type: 'resize', session_id: id, cols: 120, rows: 40 });
    since = type(client, id, 'echo "S2:$(stty size)"');
    await client.waitForOutput(id, /S2:40 120/, { since });

    // The marker is computed by the shell so the echoed command line cannot match it.
    since = type(client, id, 'echo "P$((0+1)):$(pwd -P)"');
    const text = await client.waitForOutput(id, /P1:\/\S*/, { since });
    expect(/P1:(\/\S*)/.exec(text)?.[1]).toBe(realpathSync(workDir));

    const list = await client.request({ type: 'list_sessions' }, isType('session_list'));
    const entry = (list.sessions as Array<Record<string, unknown>>).find((s) => s.id === id);
    expect(entry, `session ${id} in ${JSON.stringify(list.sessions)}`).toBeDefined();

    const closedSince = client.mark();
    client.send({ type: 'close_session', session_id: id });
    const closed = await client.waitFor(isType('session_closed', id), { since: closedSince });
    expect(closed.exit_code === null || typeof closed.exit_code === 'number').toBe(true);
  });

  it('fanout to two connections; unsubscribe stops output on that connection only', async () => {
    const a = await connect();
    const b = await connect();
    const { id } = await createShell(a);
    await subscribe(a, id);
    await subscribe(b, id);

    const sinceA = type(a, id, 'echo "F1:$FOO"');
    const sinceB = b.mark();
    await a.waitForOutput(id, /F1:bar/, { since: sinceA });
    await b.waitForOutput(id, /F1:bar/, { since: sinceB });

    a.send({ type: 'unsubscribe', session_id: id });
    const afterUnsubscribe = await a.sync();
    const sinceB2 = b.mark();
    type(a, id, 'echo "U1:$FOO"; echo "U2:done"');
    await b.waitForOutput(id, /U2:done/, { since: sinceB2 });
    // Give any stray frame time to arrive.
    await new Promise((r) => setTimeout(r, 300));
    await a.sync();
    expect(a.since(afterUnsubscribe).filter(isType('session_output'))).toEqual([]);

    // a is no longer subscribed: its close_session is answered directly; b gets it through its subscription.
    const closedSince = a.mark();
    const bClosedSince = b.mark();
    a.send({ type: 'close_session', session_id: id });
    const closed = await a.waitFor(isType('session_closed', id), { since: closedSince });
    expect(closed.exit_code === null || typeof closed.exit_code === 'number').toBe(true);
    await b.waitFor(isType('session_closed', id), { since: bClosedSince });
  });

  it('`exit 3` typed into a session → every subscriber gets session_closed with exit_code 3', async () => {
    const a = await connect();
    const b = await connect();
    const { id, pid } = await createShell(a);
    await subscribe(a, id);
    await subscribe(b, id);
    const sinceA = type(a, id, 'exit 3');
    const [closedA, closedB] = await Promise.all([
      a.waitFor(isType('session_closed', id), { since: sinceA }),
      b.waitFor(isType('session_closed', id)),
    ]);
    expect(closedA.exit_code).toBe(3);
    expect(closedB.exit_code).toBe(3);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('close_session from a subscribed connection yields exactly one session_closed', async () => {
    const client = await connect();
    const { id } = await createShell(client);
    await subscribe(client, id);
    const since = client.mark();
    client.send({ type: 'close_session', session_id: id });
    await client.waitFor(isType('session_closed', id), { since });
    await new Promise((r) => setTimeout(r, 300));
    await client.sync();
    expect(client.since(since).filter(isType('session_closed', id))).toHaveLength(1);
  });

  it('an error for a bad request is an `error` with a message', async () => {
    const client = await connect();
    const error = await client.request(
      { type: 'write_input', session_id: 'no-such-session', data: b64('x') },
      isType('error'),
    );
    expect(String(error.message)).toMatch(/unknown session/);
  });

  it('pipelined requests are answered in order (without req_id, order is how replies are matched)', async () => {
    const client = await connect();
    const since = client.mark();
    client.send(
      [
        { type: 'write_input', session_id: 'no-such-session', data: b64('x') },
        { type: 'ping' },
        { type: 'resize', session_id: 'no-such-session', cols: 80, rows: 24 },
        { type: 'list_sessions' },
      ]
        .map((m) => JSON.stringify(m))
        .join('\n'),
    );
    await client.waitFor(isType('session_list'), { since });
    await client.sync();
    expect(client.since(since).map((m) => m.type)).toEqual([
      'error',
      'pong',
      'error',
      'session_list',
      'pong',
    ]);
  });

  /**
   * One connection stops reading (socket paused) while ~24 MB of output (3x the 8 MiB in-memory ring)
   * goes by; another connection reads normally. Returns both once the stalled one has read to the end.
   */
  const stallThroughBigOutput = async () => {
    const slow = await connect();
    const fast = await connect();
    const { id } = await createShell(fast);
    await subscribe(slow, id);
    await subscribe(fast, id);
    slow.socket.pause();
    const since = type(
      fast,
      id,
      `yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c ${BIG_OUTPUT_BYTES}; echo "END-$((6*7))"; exit 5`,
    );
    const closed = await fast.waitFor(isType('session_closed', id), { since, timeoutMs: 120_000 });
    expect(closed.exit_code).toBe(5);
    expect(fast.output(id, since)).toMatch(/END-42/);
    slow.socket.resume();
    const slowClosed = await slow.waitFor(isType('session_closed', id), { timeoutMs: 60_000 });
    return { slow, fast, id, slowClosed };
  };

  it('a stalled subscriber that never asked for snapshots gets only agor messages, through to session_closed', async () => {
    const { slow, id, slowClosed } = await stallThroughBigOutput();
    expect(slowClosed.exit_code).toBe(5);
    // Whatever the daemon did to catch it up, it was plain session_output the client can render.
    expect(slow.messages.every((m) => AGOR_DAEMON_TYPES.has(m.type))).toBe(true);
    expect(slow.output(id)).toMatch(/END-42/);
    const closedIndex = slow.messages.indexOf(slowClosed);
    expect(slow.messages.slice(closedIndex + 1).filter((m) => m.session_id === id)).toEqual([]);
  }, 180_000);

  it('a stalled subscriber is caught up from the journal with every byte it missed, not a redraw', async () => {
    // subscription.ts: a subscriber behind the in-memory ring catches up from the journal on disk,
    // a chunk at a time while its socket takes them (the daemon queues nothing for it); a redraw
    // (ESC c and the screen) is only for one behind what the journal retains.
    const { slow, fast, id } = await stallThroughBigOutput();
    const outputs = slow.messages.filter(isType('session_output', id));
    const redraws = outputs.filter(
      (m) => Buffer.from(String(m.data), 'base64').subarray(0, 2).toString() === '\x1bc',
    );
    const slowBytes = Buffer.byteLength(slow.output(id));
    const fastBytes = Buffer.byteLength(fast.output(id));
    expect(
      { redrawn: redraws.length > 0, replayedAllBytes: slowBytes >= fastBytes },
      `stalled client got ${slowBytes} of ${fastBytes} bytes in ${outputs.length} frames`,
    ).toEqual({ redrawn: false, replayedAllBytes: true });
    // It subscribed first, so it may also hold a byte or two from before the other did.
    expect(slow.output(id).endsWith(fast.output(id))).toBe(true);
  }, 180_000);

  it('every message this client received was agor-pty typed, valid JSON lines', () => {
    const seen = new Set(clients.flatMap((client) => client.messages.map((m) => m.type)));
    for (const typeName of seen) expect(AGOR_DAEMON_TYPES.has(typeName), typeName).toBe(true);
    for (const client of clients) expect(client.badLines).toEqual([]);
    expect(seen.has('session_output')).toBe(true);
  });
});
