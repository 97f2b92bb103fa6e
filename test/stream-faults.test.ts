/**
 * I/O faults on every path that streams stored output — a subscriber catching up from disk (including
 * from the socket's drain handler), read_output, a snapshot rebuilt from the log, SSE and the WebSocket —
 * reach that one client as an error or a resync, and never end the daemon.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { TowerClient } from '../dist/client/client.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { api } from './support/http.js';
import { b64, isType, RawClient, readTokenFile } from './support/raw-socket.js';

const MiB = 1024 * 1024;

describe('faults while streaming stored output', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    // Small segments so that a reader catching up crosses many files.
    daemon = await startTestDaemon({ serveArgs: ['--log-cap-mib', '16', '--ring-mib', '1'] });
    client = await daemon.connect();
  });
  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  const alive = async () => {
    const probe = await daemon.connect();
    await probe.ping();
    probe.end();
    expect(daemon.process.exitCode).toBeNull();
  };

  /** An ended session with `bytes` of output, and its segment files. */
  const writtenSession = async (bytes: number) => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', `head -c ${bytes} /dev/urandom | base64 -w 100`],
    });
    await waitFor(
      async () => (await client.list()).find((s) => s.id === sessionId)?.status === 'exited',
      'the writer to finish',
    );
    const dir = join(daemon.stateDir, 'sessions', sessionId);
    const segments = readdirSync(dir)
      .filter((name) => name.endsWith('.seg'))
      .sort()
      .map((name) => join(dir, name));
    return { sessionId, segments };
  };

  it('a subscriber catching up, its segments removed between two drains: an error or resync, not a crash', async () => {
    const { sessionId, segments } = await writtenSession(8 * MiB);
    expect(segments.length).toBeGreaterThan(2);
    const raw = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    // Stop reading: the daemon fills the socket (its high-water mark) and waits for 'drain'.
    raw.socket.pause();
    raw.send({ type: 'subscribe', session_id: sessionId, from_offset: 0 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const segment of segments) rmSync(segment);
    raw.socket.resume();
    await raw.waitFor(
      (message) =>
        (message.type === 'error' && message.session_id === sessionId) ||
        message.type === 'snapshot' ||
        (message.type === 'session_output' && message.offset === undefined),
      { timeoutMs: 20_000, what: 'an error or a resync for the subscriber' },
    );
    raw.destroy();
    await alive();
  });

  it('read_output of a removed segment answers an error, or skips and says so', async () => {
    const { sessionId, segments } = await writtenSession(4 * MiB);
    rmSync(segments[0]!);
    rmSync(`${segments[0]!.slice(0, -4)}.sum`, { force: true });
    const raw = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    const reply = await raw.request(
      { type: 'read_output', session_id: sessionId, from_offset: 0 },
      (m) => m.type === 'output_chunk' || m.type === 'error',
    );
    if (reply.type === 'output_chunk') {
      expect(reply.offset).toBeGreaterThan(0);
      expect(reply.skipped).toMatchObject({ from: 0, reason: expect.stringMatching(/not_saved|unreadable/) });
    } else {
      expect(reply.code).toBe('offset_not_retained');
    }
    raw.destroy();
    await alive();
  });

  it('a snapshot rebuilt from a log whose files are gone answers, and the daemon stays up', async () => {
    const { sessionId, segments } = await writtenSession(3 * MiB);
    await daemon.crash();
    await daemon.restart();
    client = await daemon.connect();
    for (const segment of segments.slice(-2)) rmSync(segment);
    await client.snapshot(sessionId).catch((error: Error) => expect(error.message).toBeTruthy());
    await client.screen(sessionId).catch((error: Error) => expect(error.message).toBeTruthy());
    await alive();
  });

  it('SSE and the WebSocket terminal from offset 0 over missing segments end with an error or skip', async () => {
    const { sessionId, segments } = await writtenSession(6 * MiB);
    for (const segment of segments.slice(0, 2)) rmSync(segment);
    const token = readTokenFile(daemon.stateDir);
    const response = await api(daemon.httpUrl!, `/api/sessions/${sessionId}/stream?offset=0`, { token });
    const text = await response.text();
    expect(text).toMatch(/event: (error|started)/);

    const url = `${daemon.httpUrl!.replace('http', 'ws')}/ws/terminal/${sessionId}?offset=0`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const seen: string[] = [];
    socket.on('message', (data, binary) => seen.push(binary ? 'output' : JSON.parse(String(data)).type));
    await waitFor(
      () => seen.includes('exit') || seen.includes('error') || seen.includes('snapshot'),
      'an answer',
    );
    socket.close();
    await alive();
    const raw = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    await raw.request({ type: 'write_input', session_id: 'nope', data: b64('x') }, isType('error'));
    raw.destroy();
  });
});
