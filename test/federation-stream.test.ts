/**
 * A terminal on a peer's session through the local Tower (/ws/terminal/PEER%2FID): two real
 * `tower serve` instances on 127.0.0.1, `ws` playing the browser on A, the session living on B. B's
 * serve is killed (-9) and started again while the browser watches: the browser's socket stays open
 * and gets exactly B's journal, and input typed meanwhile is applied once. A hostile peer (a `ws`
 * server of the test's own) floods, sends an oversized or a malformed frame: bounded, and a clear end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { TowerClient } from '../dist/client/client.js';
import { ensureToken } from '../dist/state/token.js';
import { AttachedTerminal } from './support/cli.js';
import { readRss, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { addPeerRecord, freePort, pairTowers, tokenOf } from './support/federation.js';
import { expectContiguous, type Message, TestBrowser } from './support/terminal-browser.js';

const MB = 1024 * 1024;

const viewerToken = (daemon: TestDaemon) => ensureToken(`${daemon.stateDir}/viewer-token`);

/** Every byte of a session's journal from `from` on, read from its own Tower's web API. */
async function journal(daemon: TestDaemon, id: string, from: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = from;
  for (;;) {
    const response = await fetch(`${daemon.httpUrl}/api/sessions/${id}/output?from=${offset}`, {
      headers: { authorization: `Bearer ${tokenOf(daemon)}` },
    });
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    parts.push(bytes);
    offset = Number(response.headers.get('x-tower-offset')) + bytes.length;
    if (bytes.length === 0 || offset >= Number(response.headers.get('x-tower-last-offset'))) break;
  }
  return Buffer.concat(parts);
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('a remote terminal through the local Tower', () => {
  let a: TestDaemon;
  let b: TestDaemon;
  let bClient: TowerClient;
  const browsers: TestBrowser[] = [];
  let helloFromB: Message | null = null;

  async function openOnA(
    fleetId: string,
    options: { token?: string; client?: string; headers?: Record<string, string>; read?: boolean } = {},
  ): Promise<TestBrowser> {
    const base = a.httpUrl!.replace(/^http/, 'ws');
    const query = options.client ? `?client=${options.client}` : '';
    const ws = new WebSocket(`${base}/ws/terminal/${encodeURIComponent(fleetId)}${query}`, {
      headers: { authorization: `Bearer ${options.token ?? tokenOf(a)}`, ...options.headers },
    });
    const browser = new TestBrowser(ws, true, true);
    browsers.push(browser);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return browser;
  }

  async function shellOnB(): Promise<string> {
    const { sessionId } = await bClient.createSession({ shell: '/bin/sh', env: { PS1: '$ ' } });
    await waitFor(async () => (await bClient.screen(sessionId)).text.includes('$'), 'the prompt');
    return sessionId;
  }

  beforeAll(async () => {
    const port = await freePort();
    b = await startTestDaemon({ serveArgs: ['--port', String(port), '--host', '127.0.0.1', '--name', 'b'] });
    a = await startTestDaemon({ serveArgs: ['--name', 'a'] });
    bClient = await b.connect();
    await pairTowers(b, a);
  });

  afterAll(async () => {
    for (const browser of browsers) browser.ws.terminate();
    bClient?.end();
    await a?.dispose();
    await b?.dispose();
  });

  it("survives the peer's serve killed -9 and restarted: B's journal exactly, input once", async () => {
    const id = await shellOnB();
    const browser = await openOnA(`b/${id}`, { client: 'viewer-1' });
    const snapshot = await browser.next('snapshot');
    const hello = browser.messages('hello')[0]!;
    helloFromB = hello;
    expect(hello).toMatchObject({ role: 'admin', input_seq: 0, session: { id: `b/${id}` } });

    browser.send({ type: 'input', seq: 1, data: 'echo ONE-$((40+2))\n' });
    await waitFor(() => browser.text().includes('ONE-42\r\n'), 'the first echo');
    browser.send({
      type: 'input',
      seq: 2,
      data: 'i=0; while [ $i -lt 300 ]; do echo "tick-$i"; i=$((i+1)); sleep 0.01; done; echo END-$((6*7))\n',
    });
    await waitFor(() => browser.text().includes('tick-20\r\n'), 'ticks', 20_000);

    await b.stopControlPlane(true);
    // Typed while the peer is away: the relay keeps it until the peer acknowledges it.
    browser.send({ type: 'input', seq: 3, data: 'echo DOWN-$((50+5))\n' });
    await new Promise((r) => setTimeout(r, 500));
    await b.restart();

    await waitFor(() => browser.text().includes('DOWN-55\r\n'), 'the input typed while B was down', 30_000);
    await waitFor(async () => (await bClient.screen(id)).offset === browser.end, 'output to settle');
    expect(browser.closeCode).toBeNull();
    expect(browser.messages('hello')).toHaveLength(1);
    expect(browser.messages('snapshot')).toHaveLength(1);
    const end = expectContiguous(browser.frames(), snapshot.offset);
    const seen = Buffer.concat(browser.frames().map((frame) => frame.data!));
    const truth = await journal(b, id, snapshot.offset);
    expect(end).toBe(snapshot.offset + truth.length);
    expect(seen.equals(truth)).toBe(true);
    const text = truth.toString('utf8');
    expect(count(text, 'ONE-42\r\n')).toBe(1);
    expect(count(text, 'END-42\r\n')).toBe(1);
    expect(count(text, 'DOWN-55\r\n')).toBe(1);
    expect(browser.messages('input_ack').at(-1)).toEqual({ type: 'input_ack', seq: 3 });
  }, 90_000);

  it('keeps view-only credentials from typing: a local viewer, and a peer that granted view only', async () => {
    const id = await shellOnB();
    const local = await openOnA(`b/${id}`, { token: viewerToken(a) });
    expect((await local.next('hello')).role).toBe('viewer');
    local.send({ type: 'input', seq: 1, data: 'echo LOCAL-$((1+1))\n' });
    expect(await local.next('error')).toMatchObject({ error: 'forbidden' });

    addPeerRecord(a, 'bview', b, viewerToken(b));
    const viaView = await openOnA(`bview/${id}`);
    expect((await viaView.next('hello')).role).toBe('viewer');
    await viaView.next('snapshot');
    viaView.send({ type: 'input', seq: 1, data: 'echo PEER-$((2+2))\n' });
    expect(await viaView.next('error')).toMatchObject({ error: 'forbidden' });
    await new Promise((r) => setTimeout(r, 300));
    const text = (await journal(b, id, 0)).toString('utf8');
    expect(text).not.toContain('LOCAL-2');
    expect(text).not.toContain('PEER-4');
  });

  it('tower attach PEER/ID: through the local serve, the size taken, typed keys applied, Ctrl-\\ detaches', async () => {
    const id = await shellOnB();
    const attached = new AttachedTerminal(a.stateDir, ['attach', `b/${id}`], { cols: 72, rows: 20 });
    await waitFor(async () => {
      const session = (await bClient.list()).find((s) => s.id === id);
      return session?.cols === 72 && session.rows === 20;
    }, 'the session to take the size of the attached terminal');
    attached.type('echo REMOTE-$((3+4))\r');
    await attached.waitForScreen((rows) => rows.some((row) => row.includes('REMOTE-7')), 'the echo');
    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode).toBe(0);
    expect(attached.output).toContain(`detached from b/${id}`);
    expect(count((await journal(b, id, 0)).toString('utf8'), 'REMOTE-7\r\n')).toBe(1);
  });

  it('refuses a relayed request to relay again (the loop guard), and an unknown peer', async () => {
    const looped = await openOnA('b/anything', { headers: { 'x-tower-peer': 'SHA256:someone' } });
    await waitFor(() => looped.closeCode, 'the close');
    expect(looped.closeCode).toBe(4404);
    const unknown = await openOnA('nobody/anything');
    await waitFor(() => unknown.closeCode, 'the close');
    expect(unknown.closeCode).toBe(4404);
    expect(unknown.messages('error')[0]).toMatchObject({ error: 'unknown_peer' });
  });

  it('a peer that refuses the credential ends the stream at once, with the reason', async () => {
    addPeerRecord(a, 'bwrong', b, 'not-the-token');
    const browser = await openOnA('bwrong/anything');
    await waitFor(() => browser.closeCode, 'the close');
    expect(browser.closeCode).toBe(1008);
    expect(browser.messages('error').at(-1)).toMatchObject({ error: 'peer_refused' });
    expect(JSON.stringify(browser.received)).not.toContain('not-the-token');
  });

  describe('a hostile peer', () => {
    let evil: WebSocketServer;
    let sentByEvil = 0;

    beforeAll(async () => {
      evil = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await new Promise((r) => evil.once('listening', r));
      evil.on('connection', (ws, request) => {
        const what = decodeURIComponent(request.url!.split('?')[0]!.split('/').at(-1)!);
        ws.send(JSON.stringify({ ...helloFromB, session: { ...helloFromB!.session, id: what } }));
        ws.send(
          JSON.stringify({
            type: 'snapshot',
            offset: 0,
            cols: 80,
            rows: 24,
            cursor_x: 0,
            cursor_y: 0,
            alt_screen: false,
            data: '',
          }),
        );
        if (what === 'big') ws.send(Buffer.alloc(20 * MB));
        if (what === 'short') ws.send(Buffer.from([1, 2, 3]));
        if (what === 'flood') flood(ws);
      });
      const port = (evil.address() as { port: number }).port;
      addPeerRecord(a, 'evil', { httpUrl: `http://127.0.0.1:${port}` } as TestDaemon, 'not-a-real-token');
    });

    afterAll(async () => {
      for (const ws of evil?.clients ?? []) ws.terminate();
      await new Promise((r) => evil?.close(r));
    });

    /** As fast as its socket drains, ACKs or not, up to 1 GiB. */
    function flood(ws: WebSocket): void {
      const chunk = Buffer.alloc(8 + 64 * 1024, 0x41);
      let offset = 0;
      const pump = () => {
        while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 4 * MB && offset < 1024 * MB) {
          chunk.writeBigUInt64BE(BigInt(offset), 0);
          ws.send(chunk);
          offset += chunk.length - 8;
          sentByEvil += chunk.length;
        }
        if (ws.readyState === WebSocket.OPEN && offset < 1024 * MB) setTimeout(pump, 1);
      };
      pump();
    }

    it('a flood into a browser that never reads costs bounded memory', async () => {
      const before = readRss(a.process.pid!);
      const browser = await openOnA('evil/flood', { read: false });
      browser.ws.pause();
      await new Promise((r) => setTimeout(r, 4000));
      const grown = readRss(a.process.pid!) - before;
      expect(sentByEvil).toBeGreaterThan(0);
      expect(sentByEvil).toBeLessThan(64 * MB);
      expect(grown).toBeLessThan(96 * MB);
      browser.ws.terminate();
      await waitFor(() => evil.clients.size === 0, 'the relay to let go of the peer');
    }, 20_000);

    it('an oversized frame ends that stream, and says why', async () => {
      const browser = await openOnA('evil/big');
      await waitFor(() => browser.closeCode, 'the close');
      expect(browser.closeCode).toBe(1011);
      expect(browser.messages('error').at(-1)).toMatchObject({ error: 'peer_message_too_big' });
    });

    it('a malformed frame ends that stream, and says why', async () => {
      const browser = await openOnA('evil/short');
      await waitFor(() => browser.closeCode, 'the close');
      expect(browser.closeCode).toBe(1011);
      expect(browser.messages('error').at(-1)).toMatchObject({ error: 'peer_bad_message' });
    });
  });
});
