/**
 * GET /ws/terminal/:id over the real daemon (support/terminal-route.ts), `ws` playing the browser:
 * attach, offsets and reconnection, input once, roles, sizes, flow control, errors, exit.
 * Snapshots have their own file (terminal-socket-snapshots.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { WINDOW_HIGH } from '../dist/server/http/terminal-socket.js';
import { readAllOutput, waitFor } from './support/daemon.js';
import { type BrowserOptions, expectContiguous } from './support/terminal-browser.js';
import { startTerminalRoute, type TerminalRoute } from './support/terminal-route.js';

const MB = 1024 * 1024;

describe('WebSocket terminal route', () => {
  let route: TerminalRoute;
  let client: TowerClient;
  const openBrowser = (sessionId: string, options?: BrowserOptions) => route.openBrowser(sessionId, options);
  const interactiveShell = (extra?: Record<string, unknown>) => route.interactiveShell(extra);

  /** Print `megabytes` MB of numbered lines, then FLOOD-42, and wait until the program has printed it all. */
  async function flood(sessionId: string, megabytes: number): Promise<void> {
    const lines = Math.floor((megabytes * MB) / 100);
    await client.write(
      sessionId,
      `yes "$(printf '%099d' 0)" | head -n ${lines} | nl -ba -w8 -s' '; echo FLOOD-$((6*7))\n`,
    );
    await waitFor(
      async () => (await client.screen(sessionId)).text.includes('FLOOD-42'),
      'the flood to finish',
      120_000,
    );
  }

  beforeAll(async () => {
    route = await startTerminalRoute();
    client = route.client;
  });

  afterAll(async () => {
    await route?.close();
  });

  it('attach: hello, a snapshot, then contiguous binary frames; typing produces output', async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId);
    const snapshot = await browser.next('snapshot');
    expect(browser.received[0]).toMatchObject({
      kind: 'message',
      message: { type: 'hello', role: 'admin', input_seq: 0, session: { id: sessionId, status: 'running' } },
    });
    expect(browser.received[1]).toMatchObject({ kind: 'message', message: { type: 'snapshot' } });
    expect(snapshot.data).toContain('$');

    browser.send({ type: 'input', seq: 1, data: 'echo MARK-$((6*7))\n' });
    expect(await browser.next('input_ack')).toEqual({ type: 'input_ack', seq: 1 });
    await waitFor(() => browser.text().includes('MARK-42\r\n'), 'the echo');
    expectContiguous(browser.frames(), snapshot.offset);
  });

  it('reconnecting with ?offset gets exactly the bytes that follow, no gap and no duplicate', async () => {
    const sessionId = await interactiveShell();
    const first = await openBrowser(sessionId);
    first.send({ type: 'input', seq: 1, data: 'echo ONE-$((1+1))\n' });
    await waitFor(() => first.text().includes('ONE-2\r\n'), 'first output');
    await waitFor(async () => (await client.screen(sessionId)).offset === first.end, 'output to settle');
    const last = first.end!;
    await first.close();

    await client.write(sessionId, 'echo WHILE-AWAY-$((2+2)); seq 1 2000\n');
    await waitFor(async () => (await client.screen(sessionId)).text.includes('2000'), 'output while away');

    const second = await openBrowser(sessionId, { offset: last });
    second.send({ type: 'input', seq: 1, data: 'echo BACK-$((3+3))\n' });
    await waitFor(() => second.text().includes('BACK-6\r\n'), 'output after reconnect');
    expect(second.messages('snapshot')).toHaveLength(0);
    const end = expectContiguous(second.frames(), last);
    const journal = await readAllOutput(client, sessionId, last);
    expect(Buffer.concat(second.frames().map((f) => f.data!)).equals(journal.subarray(0, end - last))).toBe(
      true,
    );
    expect(second.text()).toContain('WHILE-AWAY-4');
  });

  it('inputs resent after a reconnect with the same client id are applied once', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'n=0; while read line; do n=$((n+1)); echo "GOT $n:$line"; done'],
    });
    const first = await openBrowser(sessionId, { client: 'tab-1' });
    expect((await first.next('hello')).input_seq).toBe(0);
    first.send({ type: 'input', seq: 1, data: 'a\n' });
    first.send({ type: 'input', seq: 2, data: 'b\n' });
    await first.next('input_ack', 2);
    await first.close();

    const second = await openBrowser(sessionId, { client: 'tab-1' });
    expect((await second.next('hello')).input_seq).toBe(2);
    for (const [seq, data] of [
      [1, 'a\n'],
      [2, 'b\n'],
      [3, 'c\n'],
    ] as const)
      second.send({ type: 'input', seq, data });
    await second.next('input_ack', 3);
    expect(second.messages('input_ack').map((m) => m.seq)).toEqual([1, 2, 3]);
    await waitFor(async () => (await readAllOutput(client, sessionId, 0)).includes('GOT 3:c'), 'third line');
    await new Promise((r) => setTimeout(r, 300));
    const output = (await readAllOutput(client, sessionId, 0)).toString();
    expect(output.match(/GOT \d+:\w/g)).toEqual(['GOT 1:a', 'GOT 2:b', 'GOT 3:c']);

    const other = await openBrowser(sessionId, { client: 'tab-2' });
    expect((await other.next('hello')).input_seq).toBe(0);
  });

  it('a viewer cannot type or resize; its socket stays open', async () => {
    const sessionId = await interactiveShell();
    const before = (await client.list()).find((s) => s.id === sessionId)!;
    const viewer = await openBrowser(sessionId, { role: 'viewer' });
    expect((await viewer.next('hello')).role).toBe('viewer');
    await viewer.next('snapshot');
    viewer.send({ type: 'input', seq: 1, data: 'echo NOPE\n' });
    viewer.send({ type: 'resize', cols: 100, rows: 40 });
    await viewer.next('error', 2);
    expect(viewer.messages('error').map((m) => m.error)).toEqual(['forbidden', 'forbidden']);
    expect(viewer.messages('input_ack')).toHaveLength(0);
    viewer.send({ type: 'snapshot' });
    await viewer.next('snapshot', 2);
    expect(viewer.closeCode).toBeNull();
    const after = (await client.list()).find((s) => s.id === sessionId)!;
    expect([after.last_offset, after.cols, after.rows]).toEqual([
      before.last_offset,
      before.cols,
      before.rows,
    ]);
  });

  it('the socket that types owns the size; a resize claims it and resizes the session', async () => {
    const sessionId = await interactiveShell({ cols: 80, rows: 24 });
    const a = await openBrowser(sessionId);
    const b = await openBrowser(sessionId);
    await a.next('snapshot');
    await b.next('snapshot');
    a.send({ type: 'input', seq: 1, data: 'echo hi\n' });
    expect(await a.next('size')).toEqual({ type: 'size', cols: 80, rows: 24, owner: true });
    expect(await b.next('size')).toEqual({ type: 'size', cols: 80, rows: 24, owner: false });

    b.send({ type: 'resize', cols: 100, rows: 30 });
    expect(await b.next('size', 2)).toEqual({ type: 'size', cols: 100, rows: 30, owner: true });
    expect(await a.next('size', 2)).toEqual({ type: 'size', cols: 100, rows: 30, owner: false });
    await waitFor(async () => {
      const info = (await client.list()).find((s) => s.id === sessionId)!;
      return info.cols === 100 && info.rows === 30;
    }, 'the session to take the owner size');

    // A newcomer learns the owner's size at once.
    const c = await openBrowser(sessionId);
    expect(await c.next('size')).toEqual({ type: 'size', cols: 100, rows: 30, owner: false });
  });

  it('a resize made elsewhere (CLI, REST) reaches every socket as a size nobody owns', async () => {
    const sessionId = await interactiveShell({ cols: 80, rows: 24 });
    const a = await openBrowser(sessionId);
    const b = await openBrowser(sessionId);
    await a.next('snapshot');
    await b.next('snapshot');
    a.send({ type: 'resize', cols: 90, rows: 25 });
    expect(await a.next('size')).toEqual({ type: 'size', cols: 90, rows: 25, owner: true });
    expect(await b.next('size')).toEqual({ type: 'size', cols: 90, rows: 25, owner: false });
    await waitFor(async () => {
      const info = (await client.list()).find((s) => s.id === sessionId)!;
      return info.cols === 90 && info.rows === 25;
    }, 'the session to take the size');
    // The daemon's event for a socket's own resize is recognised: no second size message.
    await new Promise((r) => setTimeout(r, 300));
    expect(a.messages('size')).toHaveLength(1);
    expect(b.messages('size')).toHaveLength(1);

    await client.resize(sessionId, 70, 20); // what `tower attach` or POST /api/sessions/:id/resize does
    expect(await a.next('size', 2)).toEqual({ type: 'size', cols: 70, rows: 20, owner: false });
    expect(await b.next('size', 2)).toEqual({ type: 'size', cols: 70, rows: 20, owner: false });
    // Typing claims the size again, at the size the session has now.
    b.send({ type: 'input', seq: 1, data: 'true\n' });
    expect(await b.next('size', 3)).toEqual({ type: 'size', cols: 70, rows: 20, owner: true });
  });

  it('a browser that never ACKs bounds memory and never pauses the program; ACKing catches it up', async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId, { keepFrames: false, autoAck: false });
    const snapshot = await browser.next('snapshot');
    // A frozen tab: it reads nothing at all, so only the server's own bounds hold the output back.
    const browserTcp = (browser.ws as unknown as { _socket: import('node:net').Socket })._socket;
    browserTcp.pause();
    const rssBefore = process.memoryUsage.rss();
    const daemonRssBefore = route.daemon.rssBytes();
    let rssPeak = rssBefore;
    let daemonRssPeak = daemonRssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      daemonRssPeak = Math.max(daemonRssPeak, route.daemon.rssBytes());
    }, 50);

    // Enough that buffering it all would show: unbounded, this process grows by well over 150 MB.
    const megabytes = 150;
    // The program finishes all its output while the browser is stalled.
    await flood(sessionId, megabytes);
    clearInterval(sampler);
    browserTcp.resume();
    await new Promise((r) => setTimeout(r, 500));
    const info = (await client.list()).find((s) => s.id === sessionId)!;
    expect(info.last_offset).toBeGreaterThan(megabytes * MB);
    expect(rssPeak - rssBefore).toBeLessThan(150 * MB);
    // The daemon's own growth (emulator garbage) is the same for any subscriber; see flow-control.test.
    expect(daemonRssPeak - daemonRssBefore).toBeLessThan(200 * MB);
    // What reached the browser without an ACK: one window plus at most one daemon frame.
    expect(browser.frameBytes).toBeGreaterThan(WINDOW_HIGH);
    expect(browser.frameBytes).toBeLessThan(WINDOW_HIGH + 256 * 1024 + 64 * 1024);
    expect(browser.messages('snapshot')).toHaveLength(1);
    expectContiguous(browser.frames(), snapshot.offset);

    const stalledEnd = browser.end!;
    browser.autoAck = true;
    browser.send({ type: 'ack', offset: stalledEnd });
    // All it missed comes from the journal on disk, far behind the 8 MiB ring: no resync, no gap.
    browser.send({ type: 'input', seq: 1, data: 'echo AFTER-$((5*5))\n' });
    await waitFor(() => browser.tail().includes('AFTER-25\r\n'), 'output after catching up', 120_000);
    expect(browser.messages('snapshot')).toHaveLength(1);
    expect(expectContiguous(browser.frames(), snapshot.offset)).toBeGreaterThan(info.last_offset);
    expect(browser.closeCode).toBeNull();
  }, 180_000);

  it("a browser that ACKs what it has not read is held back by the WebSocket's unsent bytes", async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId, { keepFrames: false, autoAck: false });
    const snapshot = await browser.next('snapshot');
    const browserTcp = (browser.ws as unknown as { _socket: import('node:net').Socket })._socket;
    browserTcp.pause();
    // ACKs beyond what was sent count as ACKing everything sent: only bufferedAmount holds it back.
    const lying = setInterval(() => browser.send({ type: 'ack', offset: Number.MAX_SAFE_INTEGER }), 10);
    let bufferedPeak = 0;
    const sampler = setInterval(() => {
      for (const socket of route.app.websocketServer.clients)
        bufferedPeak = Math.max(bufferedPeak, socket.bufferedAmount);
    }, 10);
    await flood(sessionId, 60);
    clearInterval(lying);
    clearInterval(sampler);
    // 1 MiB, plus at most one daemon frame (256 KiB) and the rest of the read that carried it.
    expect(bufferedPeak).toBeLessThan(1.5 * MB);
    browserTcp.resume();
    browser.autoAck = true;
    browser.send({ type: 'input', seq: 1, data: 'echo AFTER-$((5*5))\n' });
    await waitFor(() => browser.tail().includes('AFTER-25\r\n'), 'output after catching up', 120_000);
    expect(browser.messages('snapshot')).toHaveLength(1);
    expectContiguous(browser.frames(), snapshot.offset);
  }, 180_000);

  it('bad messages get an error and the socket stays open', async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId);
    await browser.next('snapshot');
    browser.ws.send('{not json');
    browser.send({ type: 'dance' });
    browser.send({ type: 'input', seq: 0, data: 'x' });
    browser.ws.send(Buffer.from('binary'), { binary: true });
    await browser.next('error', 4);
    expect(browser.messages('error').map((m) => m.error)).toEqual([
      'bad_message',
      'bad_message',
      'bad_message',
      'bad_message',
    ]);
    expect(browser.messages('error')[0]!.message).toMatch(/JSON/);
    browser.send({ type: 'input', seq: 1, data: 'echo STILL-$((3*3))\n' });
    await waitFor(() => browser.text().includes('STILL-9\r\n'), 'output after bad messages');
    expect(browser.closeCode).toBeNull();
  });

  it('an unknown session gets an error and close code 4404', async () => {
    const browser = await openBrowser('no-such-session');
    await waitFor(() => browser.closeCode !== null, 'the socket to close');
    expect(browser.closeCode).toBe(4404);
    expect(browser.messages()).toEqual([
      { type: 'error', error: 'unknown_session', message: expect.stringContaining('no-such-session') },
    ]);
  });

  it('the session exit reaches the browser', async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId);
    await browser.next('snapshot');
    browser.send({ type: 'input', seq: 1, data: 'exit 3\n' });
    expect(await browser.next('exit')).toEqual({ type: 'exit', exit_code: 3, signal: null });
  });
});
