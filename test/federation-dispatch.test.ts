import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { waitState } from './support/agents.js';
import { killLeftovers, runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { addPeerRecord, tokenOf } from './support/federation.js';
import { apiJson } from './support/http.js';

let a: TestDaemon;
let b: TestDaemon;
let clientA: TowerClient;
let clientB: TowerClient;
/** The session dispatch started on b. */
let onB: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startTestDaemon(), startTestDaemon()]);
  [clientA, clientB] = await Promise.all([a.connect(), b.connect()]);
  addPeerRecord(a, 'b', b);
});

afterAll(async () => {
  clientA?.end();
  clientB?.end();
  await Promise.all([a?.dispose(), b?.dispose()]);
  killLeftovers();
});

const dispatch = (daemon: TestDaemon, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  apiJson(daemon.httpUrl!, '/api/dispatch', { method: 'POST', token: tokenOf(daemon), body, headers });

describe('dispatch across the fleet', () => {
  it('starts one on a peer when this machine is at its limit, then reuses the idle one there', async () => {
    const { sessionId: busy } = await clientA.createSession({ runtime: 'shell', cols: 80, rows: 24 });
    await waitState(clientA, busy, 'idle');
    await clientA.write(busy, Buffer.from('sleep 600\r'));
    await waitState(clientA, busy, 'busy');

    const first = await dispatch(a, {
      runtime: 'shell',
      text: 'echo fleet-one',
      max_sessions: 1,
      fleet: true,
    });
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ peer: 'b', spawned: true });
    expect(first.json.reason).toContain('one starts on b');
    const [peer, remoteId] = String(first.json.session_id).split('/');
    expect(peer).toBe('b');
    expect((await clientB.list()).map((session) => session.id)).toContain(remoteId);
    onB = remoteId!;
    await waitState(clientB, onB, 'idle', 20_000);

    const second = await dispatch(a, {
      runtime: 'shell',
      text: 'echo fleet-two',
      max_sessions: 1,
      fleet: true,
    });
    expect(second.json).toMatchObject({ peer: 'b', spawned: false, session_id: first.json.session_id });
    expect(second.json.reason).toContain('an idle shell session on b');
  });

  it('stays here without --fleet, and a dispatch a peer asks for is never sent on', async () => {
    const local = await dispatch(a, { runtime: 'shell', text: 'echo here', max_sessions: 1 });
    expect(local.json).toMatchObject({ peer: null, spawned: false });
    expect(local.json.reason).toContain('every machine is at its limit');
    const fromPeer = await dispatch(
      a,
      { runtime: 'shell', text: 'echo from-peer', max_sessions: 1, fleet: true },
      { 'x-tower-peer': 'SHA256:someone' },
    );
    expect(fromPeer.json.peer).toBeNull();
  });

  it('tower dispatch --fleet prints the id, and where and why; --peer names the peer', async () => {
    // Idle after its last prompt was typed and run, not in the moment before.
    await waitFor(
      async () => (await clientB.prompts(onB)).every((prompt) => prompt.state === 'delivered'),
      "b's prompts delivered",
      20_000,
    );
    await waitState(clientB, onB, 'idle', 20_000);
    const fleet = await runCli(a.stateDir, [
      'dispatch',
      '--runtime',
      'shell',
      '--max',
      '1',
      '--fleet',
      'echo cli',
    ]);
    expect(fleet.code).toBe(0);
    expect(fleet.stdout.trim()).toMatch(/^b\/[0-9a-f-]+$/);
    expect(fleet.stderr).toMatch(/^tower: dispatched on b: /);
    const named = await runCli(a.stateDir, ['dispatch', '--runtime', 'shell', '--peer', 'b', 'echo named']);
    expect(named.code).toBe(0);
    expect(named.stdout.trim()).toMatch(/^b\//);
    expect(named.stderr).toContain('sent to b, as asked');
    const unknown = await runCli(a.stateDir, ['dispatch', '--runtime', 'shell', '--peer', 'nobody', 'x']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown peer: nobody');
    await waitFor(async () => (await clientB.list()).length >= 1, 'the sessions on b');
  });
});
