/**
 * A link to a peer that dies without a reset: a proxy between the two Towers stops forwarding and
 * keeps its connections open (a middlebox that forgot them, a pulled cable), so no close ever comes.
 * This Tower notices the silence (pings on the WebSocket leg, the keepalive's absence on the SSE leg)
 * and goes on over a new connection from the offset it got to: the viewer's bytes equal the peer's
 * journal, and the viewer's own socket never closes; `tower logs --follow PEER/ID` prints every byte once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { TowerClient } from '../dist/client/client.js';
import { CuttableProxy } from './support/browser.js';
import { killLeftovers, startCli } from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { putPeer, tokenOf } from './support/federation.js';
import { SseReader } from './support/http.js';
import { expectContiguous, TestBrowser } from './support/terminal-browser.js';

let a: TestDaemon;
let b: TestDaemon;
let clientB: TowerClient;
const proxy = new CuttableProxy();

beforeAll(async () => {
  [a, b] = await Promise.all([startTestDaemon({ serveArgs: ['--name', 'a'] }), startTestDaemon()]);
  clientB = await b.connect();
  proxy.target = Number(new URL(b.httpUrl!).port);
  // A reaches B only through the proxy.
  putPeer(a.stateDir, 'b', `http://127.0.0.1:${await proxy.listen()}`, tokenOf(b));
});

afterAll(async () => {
  proxy.close();
  clientB?.end();
  await Promise.all([a?.dispose(), b?.dispose()]);
  killLeftovers();
});

/** Prints numbered lines for about 10 s, then a last one: the silence outlasts it, the journal has the rest. */
async function tickerOnB(): Promise<string> {
  const script = 'i=0; while [ $i -lt 200 ]; do echo tick-$i; i=$((i+1)); sleep 0.05; done; echo ALL-DONE';
  const { sessionId } = await clientB.createSession({ shell: '/bin/sh', args: ['-c', script] });
  return sessionId;
}

describe('a link to a peer that goes silent without a reset', () => {
  it('the terminal relay notices within seconds and resumes by offset: the journal exactly', async () => {
    const id = await tickerOnB();
    const ws = new WebSocket(
      `${a.httpUrl!.replace(/^http/, 'ws')}/ws/terminal/${encodeURIComponent(`b/${id}`)}`,
      {
        headers: { authorization: `Bearer ${tokenOf(a)}` },
      },
    );
    const browser = new TestBrowser(ws, true, true);
    try {
      const snapshot = await browser.next('snapshot');
      await waitFor(() => browser.text().includes('tick-20\r\n'), 'ticks through the relay', 20_000);
      proxy.silence();
      const silencedAt = Date.now();
      const heard = browser.end ?? 0;
      await waitFor(() => (browser.end ?? 0) > heard + 200, 'output again after the silence', 25_000);
      process.stdout.write(`terminal relay: output again ${Date.now() - silencedAt} ms after the silence\n`);
      expect(Date.now() - silencedAt).toBeLessThan(20_000);
      await waitFor(() => browser.text().includes('ALL-DONE'), 'the end through the relay', 40_000);
      await waitFor(async () => (await clientB.screen(id)).offset === browser.end, 'output to settle');
      expect(browser.closeCode).toBeNull();
      expect(browser.messages('hello')).toHaveLength(1);
      const end = expectContiguous(browser.frames(), snapshot.offset);
      const seen = Buffer.concat(browser.frames().map((frame) => frame.data!));
      const truth = (await readAllOutput(clientB, id)).subarray(snapshot.offset);
      expect(end).toBe(snapshot.offset + truth.length);
      expect(seen.equals(truth)).toBe(true);
    } finally {
      ws.terminate();
    }
  }, 90_000);

  it('the console stream relay notices the missing keepalive and resumes by offset: the text exactly', async () => {
    const id = await tickerOnB();
    const reader = await SseReader.open(a.httpUrl!, `/api/sessions/b%2F${id}/stream?offset=0`, {
      token: tokenOf(a),
    });
    const text = () =>
      reader
        .outputs()
        .map((event) => event.data.data as string)
        .join('');
    try {
      await waitFor(() => text().includes('tick-20\n') || text().includes('tick-20\r\n'), 'ticks', 20_000);
      proxy.silence();
      const silencedAt = Date.now();
      const heard = text().length;
      await waitFor(() => text().length > heard + 200, 'output again after the silence', 30_000);
      process.stdout.write(`console relay: output again ${Date.now() - silencedAt} ms after the silence\n`);
      expect(Date.now() - silencedAt).toBeLessThan(25_000);
      await waitFor(() => text().includes('ALL-DONE'), 'the end through the relay', 40_000);
      const journal = (await readAllOutput(clientB, id)).toString('utf8');
      expect(text()).toBe(journal);
      expect(reader.events.filter((event) => event.event === 'started')).toHaveLength(1);
    } finally {
      reader.close();
    }
  }, 90_000);

  it('tower logs --follow PEER/ID prints every byte once, until the session ends, across a silent link', async () => {
    const id = await tickerOnB();
    await waitFor(async () => (await clientB.screen(id)).text.includes('tick-10'), 'ticks on B', 20_000);
    const follower = startCli(a.stateDir, ['logs', '--follow', `b/${id}`]);
    await waitFor(() => follower.stdout().includes('tick-40\r\n'), 'the follower past the journal', 20_000);
    proxy.silence();
    const result = await follower.done;
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdoutBytes.equals(await readAllOutput(clientB, id))).toBe(true);
    expect(result.stdout).toContain('ALL-DONE');
  }, 90_000);
});
