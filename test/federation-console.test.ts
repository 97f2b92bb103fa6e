import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { killLeftovers } from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { addPeerRecord, freePort, tokenOf } from './support/federation.js';
import { api, SseReader } from './support/http.js';

let a: TestDaemon;
let b: TestDaemon;
let clientB: TowerClient;

beforeAll(async () => {
  const port = await freePort();
  [a, b] = await Promise.all([startTestDaemon(), startTestDaemon({ serveArgs: ['--port', String(port)] })]);
  clientB = await b.connect();
  addPeerRecord(a, 'b', b);
});

afterAll(async () => {
  clientB?.end();
  await Promise.all([a?.dispose(), b?.dispose()]);
  killLeftovers();
});

const textOf = (reader: SseReader) =>
  reader
    .outputs()
    .map((event) => event.data.data as string)
    .join('');

describe('a peer session streamed through this Tower', () => {
  it('resumes by offset when the peer serve is killed and restarted: the text equals its journal', async () => {
    const script = 'for i in $(seq 1 400); do echo line-$i; sleep 0.01; done; echo all-done';
    const { sessionId } = await clientB.createSession({ shell: '/bin/sh', args: ['-c', script] });
    const reader = await SseReader.open(a.httpUrl!, `/api/sessions/b%2F${sessionId}/stream?offset=0`, {
      token: tokenOf(a),
    });
    await waitFor(() => textOf(reader).includes('line-50'), 'some lines through the relay');
    await b.stopControlPlane(true);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await b.restart();
    await waitFor(() => textOf(reader).includes('all-done'), 'the end through the relay', 30_000);
    reader.close();
    const journal = (await readAllOutput(clientB, sessionId)).toString('utf8');
    expect(textOf(reader)).toBe(journal);
    const offsets = reader.outputs().map((event) => event.data.offset as number);
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    expect(reader.events.filter((event) => event.event === 'started')).toHaveLength(1);
  });

  it('an unknown peer is 404; an unknown session on the peer ends the stream with its error', async () => {
    const unknownPeer = await api(a.httpUrl!, '/api/sessions/nobody%2Fx/stream', { token: tokenOf(a) });
    expect(unknownPeer.status).toBe(404);
    expect(((await unknownPeer.json()) as { error: string }).error).toBe('unknown_peer');
    const reader = await SseReader.open(a.httpUrl!, '/api/sessions/b%2Fno-such-session/stream', {
      token: tokenOf(a),
    });
    const error = await reader.next((event) => event.event === 'error', 'an error event');
    expect(error.data.message).toContain('b:');
    await reader.waitEnded();
  });
});
