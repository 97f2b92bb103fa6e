/**
 * A subscriber that falls behind the in-memory ring but not behind what the journal retains on disk is
 * caught up from disk: it gets every byte the program wrote, in order, with no snapshot or redraw.
 * Only past what is retained is it resynced from a snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { collectOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { isType, RawClient, type WireMessage } from './support/raw-socket.js';

const MiB = 1024 * 1024;
/** `seq 1 LINES` writes 25.9 MB once the PTY turns each \n into \r\n: over 3 times the 8 MiB ring. */
const LINES = 3_000_000;

/** What `seq 1 n` shows through a PTY (onlcr): the exact bytes every subscriber must get. */
function seqOutput(n: number): Buffer {
  const parts: string[] = [];
  for (let i = 1; i <= n; i++) parts.push(`${i}\r\n`);
  return Buffer.from(parts.join(''), 'latin1');
}

/** Decoded session_output of one session, and whether its offsets (when given) were contiguous. */
function received(client: RawClient, sessionId: string): { bytes: Buffer; contiguous: boolean } {
  const outputs = client.messages.filter(isType('session_output', sessionId));
  let next: number | undefined;
  let contiguous = true;
  const parts: Buffer[] = [];
  for (const message of outputs) {
    const data = Buffer.from(String(message.data), 'base64');
    if (typeof message.offset === 'number') {
      if (next !== undefined && message.offset !== next) contiguous = false;
      next = message.offset + data.length;
    }
    parts.push(data);
  }
  return { bytes: Buffer.concat(parts), contiguous };
}

const resyncs = (messages: WireMessage[]) =>
  messages.filter(
    (m) =>
      m.type === 'snapshot' ||
      (m.type === 'session_output' &&
        Buffer.from(String(m.data), 'base64').subarray(0, 2).toString() === '\x1bc'),
  ).length;

describe('a subscriber behind the ring catches up from disk', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    daemon = await startTestDaemon();
    client = await daemon.connect();
  });

  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  it('several subscribers, two of them stalled far behind the ring, each get exactly the bytes written', async () => {
    const expected = seqOutput(LINES);
    expect(expected.length).toBeGreaterThan(3 * 8 * MiB);
    // The program waits for a line (not echoed) so every subscriber is on before its first byte.
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', `stty -echo; read go; seq 1 ${LINES}`],
    });
    await waitFor(
      async () => (await client.list()).find((s) => s.id === sessionId)!.last_offset === 0,
      'the session to start',
    );

    const fast = collectOutput(client, sessionId);
    await client.subscribe(sessionId, { fromOffset: 0 });
    const other = await daemon.connect();
    const fastToo = collectOutput(other, sessionId);
    await other.subscribe(sessionId, { fromOffset: 0 });
    // One stalled client asked for offsets (and so could be given snapshots), one is agor-pty style.
    const withOffsets = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    const agorStyle = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    await withOffsets.request(
      { type: 'subscribe', session_id: sessionId, from_offset: 0, req_id: 1 },
      isType('ack'),
    );
    await agorStyle.request({ type: 'subscribe', session_id: sessionId, req_id: 1 }, isType('ack'));
    withOffsets.socket.pause();
    agorStyle.socket.pause();

    await client.write(sessionId, 'go\r');
    await waitFor(() => fast.closed(), 'the fast subscriber to see the end', 120_000);
    await waitFor(() => fastToo.closed(), 'the second fast subscriber to see the end', 120_000);
    // While stalled they took at most what the socket buffers hold: far more than the ring is behind them.
    for (const stalled of [withOffsets, agorStyle]) {
      expect(expected.length - received(stalled, sessionId).bytes.length).toBeGreaterThan(16 * MiB);
    }

    withOffsets.socket.resume();
    agorStyle.socket.resume();
    await withOffsets.waitFor(isType('session_closed', sessionId), { timeoutMs: 120_000, what: 'the end' });
    await agorStyle.waitFor(isType('session_closed', sessionId), { timeoutMs: 120_000, what: 'the end' });

    expect(fast.gaps()).toBe(0);
    expect(fast.bytes().equals(expected)).toBe(true);
    expect(fastToo.bytes().equals(expected)).toBe(true);
    for (const stalled of [withOffsets, agorStyle]) {
      const got = received(stalled, sessionId);
      expect(resyncs(stalled.messages)).toBe(0);
      expect(got.contiguous).toBe(true);
      expect(got.bytes.length).toBe(expected.length);
      expect(got.bytes.equals(expected)).toBe(true);
      // session_closed comes after the last byte, and nothing after it.
      const closedAt = stalled.messages.findIndex(isType('session_closed', sessionId));
      expect(stalled.messages.slice(closedAt + 1).filter((m) => m.session_id === sessionId)).toEqual([]);
      stalled.destroy();
    }
    other.end();
  }, 240_000);
});

describe('a subscriber behind what the journal retains', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    daemon = await startTestDaemon({ serveArgs: ['--ring-mib', '1', '--log-cap-mib', '4'] });
    client = await daemon.connect();
  });

  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  it('is resynced from a snapshot, then gets contiguous output', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', `stty -echo; read go; seq 1 ${LINES / 3}; read more; echo AFTER-$((6*7)); sleep 60`],
    });
    const stalled = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    await stalled.request(
      { type: 'subscribe', session_id: sessionId, from_offset: 0, req_id: 1 },
      isType('ack'),
    );
    stalled.socket.pause();
    const live = collectOutput(client, sessionId);
    await client.subscribe(sessionId, { fromOffset: 0 });
    await client.write(sessionId, 'go\r');
    await waitFor(() => live.tail().endsWith(`${LINES / 3}\r\n`), 'all of seq', 60_000);
    const info = (await client.list()).find((s) => s.id === sessionId)!;
    // The stalled subscriber's next byte (offset 0) is gone from memory and disk alike.
    expect(info.first_offset).toBeGreaterThan(2 * MiB);

    stalled.socket.resume();
    const snapshot = await stalled.waitFor(isType('snapshot', sessionId), { timeoutMs: 30_000 });
    expect(snapshot.offset).toBeGreaterThanOrEqual(info.first_offset);
    await client.write(sessionId, 'more\r');
    await stalled.waitFor(
      (m) =>
        isType('session_output', sessionId)(m) &&
        Buffer.from(String(m.data), 'base64').toString().includes('AFTER-42'),
      { timeoutMs: 30_000, what: 'output after the resync' },
    );
    let next = snapshot.offset as number;
    for (const message of stalled.messages.slice(stalled.messages.indexOf(snapshot) + 1)) {
      if (!isType('session_output', sessionId)(message)) continue;
      expect(message.offset).toBe(next);
      next += Buffer.from(String(message.data), 'base64').length;
    }
    stalled.destroy();
  }, 120_000);
});
