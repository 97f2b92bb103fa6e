/**
 * The web server's limits, against the real `tower serve`: many watchers without leak warnings, a cap
 * on open streams (SSE and WebSocket) with a clear 503 past it, and WebSocket frames refused by size
 * before they are buffered.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyWebsocket from '@fastify/websocket';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TowerClient } from '../dist/client/client.js';
import { MAX_WS_MESSAGE_BYTES } from '../dist/protocol/limits.js';
import { StreamLimit } from '../dist/server/http/streams.js';
import { registerTerminalSocket } from '../dist/server/http/terminal-socket.js';
import { HAVE_CHROMIUM, launchChromium, openSession, pane, terminalText } from './support/browser.js';
import { killLeftovers, startCli } from './support/cli.js';
import { startTestDaemon, waitFor } from './support/daemon.js';
import { api, SseReader } from './support/http.js';

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
    /** File descriptors the daemon process holds. */
    fds: () => readdirSync(`/proc/${running.child.pid}/fd`).length,
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

  it('/api/events streams share one daemon connection: each costs the process one descriptor', async () => {
    const daemon = await serve();
    const before = daemon.fds();
    const streams = await Promise.all(
      Array.from({ length: 20 }, () => SseReader.open(daemon.base, '/api/events', { token: daemon.token })),
    );
    // Its TCP connection; a daemon connection of its own would add both ends of a Unix socket.
    expect(daemon.fds() - before).toBeLessThan(20 * 2);
    for (const stream of streams) stream.close();
    await daemon.stop();
  });
});

type Daemon = Awaited<ReturnType<typeof serve>>;

async function createSession(daemon: Daemon, body: Record<string, unknown> = {}): Promise<string> {
  const response = await api(daemon.base, '/api/sessions', { method: 'POST', body, token: daemon.token });
  expect(response.status).toBe(201);
  return ((await response.json()) as { session: { id: string } }).session.id;
}

/** A WebSocket on the terminal route; resolves with it once open, or with the HTTP status it got instead. */
function openTerminal(daemon: Daemon, id: string): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(`${daemon.base.replace(/^http/, 'ws')}/ws/terminal/${id}`, {
    headers: { authorization: `Bearer ${daemon.token}` },
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_request, response) => resolve({ ws, status: response.statusCode ?? 0 }));
    ws.once('error', reject);
  });
}

describe('open streams', () => {
  it('past --max-streams, SSE and WebSocket get 503 too_many_streams with Retry-After; REST still works', async () => {
    const daemon = await serve(['--max-streams', '3']);
    const id = await createSession(daemon);
    const events = await SseReader.open(daemon.base, '/api/events', { token: daemon.token });
    const output = await SseReader.open(daemon.base, `/api/sessions/${id}/stream`, { token: daemon.token });
    const terminal = await openTerminal(daemon, id);
    expect(terminal.status).toBe(101);

    const refused = await api(daemon.base, '/api/events', { token: daemon.token });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await refused.json()).toMatchObject({
      error: 'too_many_streams',
      message: expect.stringMatching(/3/),
    });
    expect((await openTerminal(daemon, id)).status).toBe(503);
    expect((await api(daemon.base, `/api/sessions/${id}/stream`, { token: daemon.token })).status).toBe(503);
    expect((await api(daemon.base, '/api/sessions', { token: daemon.token })).status).toBe(200);

    // A closed stream frees its place.
    terminal.ws.close();
    await waitFor(async () => (await openTerminal(daemon, id)).status === 101, 'a place for a new terminal');
    events.close();
    output.close();
    await daemon.stop();
  });
});

/** A WebSocket handshake by hand, so a test can send a frame header without its payload. */
async function rawTerminalSocket(daemon: Daemon, id: string) {
  const url = new URL(daemon.base);
  const socket = connect(Number(url.port), url.hostname);
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  let ended = false;
  socket.on('close', () => {
    ended = true;
  });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    [
      `GET /ws/terminal/${id} HTTP/1.1`,
      `Host: ${url.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      `Authorization: Bearer ${daemon.token}`,
      '',
      '',
    ].join('\r\n'),
  );
  await waitFor(() => received.includes('\r\n\r\n'), 'the 101 response');
  expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
  received = received.subarray(received.indexOf('\r\n\r\n') + 4);
  return { socket, received: () => received, ended: () => ended };
}

/** The close code in a close frame among the server's (unmasked) frames, if one came. */
function closeCode(frames: Buffer): number | undefined {
  let at = 0;
  while (at + 2 <= frames.length) {
    const opcode = frames[at]! & 0x0f;
    let length = frames[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      length = frames.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(frames.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (opcode === 0x8 && length >= 2) return frames.readUInt16BE(at + header);
    at += header + length;
  }
  return undefined;
}

describe('WebSocket messages', () => {
  it(`a frame over ${MAX_WS_MESSAGE_BYTES} bytes is refused from its header (1009), before its payload`, async () => {
    const daemon = await serve();
    const id = await createSession(daemon);
    const raw = await rawTerminalSocket(daemon, id);
    // A masked text frame announcing 2 MiB; none of the payload is sent.
    const header = Buffer.alloc(14);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(2 * 1024 * 1024), 2);
    randomBytes(4).copy(header, 10);
    raw.socket.write(header);
    await waitFor(() => closeCode(raw.received()) !== undefined, 'a close frame');
    expect(closeCode(raw.received())).toBe(1009);
    await waitFor(() => raw.ended(), 'the connection to close');
    await daemon.stop();
  });

  it('a message at the limit is taken: a large input arrives whole', async () => {
    const daemon = await serve();
    const size = MAX_WS_MESSAGE_BYTES - 1024;
    const id = await createSession(daemon, {
      command: '/bin/sh',
      args: ['-c', `stty raw -echo; head -c ${size} | md5sum; sleep 600`],
    });
    const { ws } = await openTerminal(daemon, id);
    let text = '';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) text += data.toString('latin1', 8);
    });
    const data = 'x'.repeat(size);
    ws.send(JSON.stringify({ type: 'input', seq: 1, data }));
    const md5 = createHash('md5').update(data).digest('hex');
    await waitFor(() => text.includes(md5), `the program to print ${md5}`, 30_000);
    ws.close();
    await daemon.stop();
  });
});

describe('messages before the session is ready', () => {
  it('wait bounded in bytes, not only in number: past ~4 MiB the socket closes (1008)', async () => {
    const daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
    const shared = await daemon.connect();
    const { sessionId } = await shared.createSession({ shell: '/bin/sh' });
    // The route built as server.ts builds it, with a daemon connection that is slow to come.
    let release = () => {};
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const app = Fastify();
    await app.register(fastifyWebsocket, { options: { maxPayload: MAX_WS_MESSAGE_BYTES } });
    app.addHook('onRequest', async (request) => {
      request.towerRole = 'admin';
    });
    registerTerminalSocket(app, {
      client: shared,
      connect: async () => {
        await slow;
        return TowerClient.connect({ stateDir: daemon.stateDir });
      },
      onSessionEvent: () => () => {},
      watchWorkspace: () => () => {},
      streams: new StreamLimit(10),
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const ws = new WebSocket(`${address.replace(/^http/, 'ws')}/ws/terminal/${sessionId}`);
      let closed: number | null = null;
      ws.on('close', (code) => {
        closed = code;
      });
      await new Promise((resolve) => ws.once('open', resolve));
      const data = 'x'.repeat(MAX_WS_MESSAGE_BYTES - 100);
      for (let seq = 1; seq <= 6; seq++) ws.send(JSON.stringify({ type: 'input', seq, data }));
      await waitFor(() => closed !== null, 'the socket to close');
      expect(closed).toBe(1008);
    } finally {
      release();
      await app.close();
      shared.end();
      await daemon.dispose();
    }
  });
});

describe.runIf(HAVE_CHROMIUM)('pasting in the browser', () => {
  it('a paste larger than one WebSocket message is sent in pieces and arrives whole', async () => {
    const daemon = await serve();
    // Control characters (6 bytes each as JSON) make a message over the limit from about 280 KB, which the
    // daemon's input queue takes whole; emoji are surrogate pairs a split must not cut.
    const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1))
      .filter((c) => !'\t\n\r\x1b'.includes(c))
      .join('');
    const unit = `${controls}\u{1F600}\u00ffabc`;
    const text = unit.repeat(Math.ceil((1.2 * MAX_WS_MESSAGE_BYTES) / JSON.stringify(unit).length));
    const bytes = Buffer.byteLength(text);
    expect(JSON.stringify(text).length).toBeGreaterThan(MAX_WS_MESSAGE_BYTES);
    const md5 = createHash('md5').update(text).digest('hex');
    const id = await createSession(daemon, {
      command: '/bin/sh',
      args: ['-c', `stty raw -echo -iexten; head -c ${bytes} | md5sum; sleep 600`],
    });
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
      const page = await context.newPage();
      const sent: number[] = [];
      page.on('websocket', (socket) =>
        socket.on('framesent', (frame) => sent.push(Buffer.byteLength(frame.payload))),
      );
      await page.goto(`${daemon.base}/#token=${daemon.token}`);
      await openSession(page, id);
      await page.evaluate((value) => navigator.clipboard.writeText(value), text);
      await pane(page, id).locator('.terminal-view').click();
      await page.keyboard.press('Control+Shift+V');
      await waitFor(
        async () => (await terminalText(page, id).catch(() => '')).includes(md5),
        `the program to print ${md5}`,
        90_000,
      );
      expect(Math.max(...sent)).toBeLessThanOrEqual(MAX_WS_MESSAGE_BYTES);
      expect(sent.filter((size) => size > 64 * 1024).length).toBeGreaterThan(1);
    } finally {
      await browser.close();
      await daemon.stop();
    }
  }, 120_000);
});
