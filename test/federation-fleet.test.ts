/**
 * The federated view over three real Towers (`tower serve --port 0`, own state dirs, 127.0.0.1) that
 * all know each other (a loop: A↔B↔C↔A): every session listed once, sessions on a peer driven through
 * the local Tower, and peers that hang, lie or flood kept from slowing or swelling it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, runCli, runCliOk } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { putPeer, tokenOf } from './support/federation.js';
import { type FakePeer, flood, hangingPeer, lyingPeer, removePeer } from './support/fleet.js';
import { api, apiJson } from './support/http.js';

interface Listed {
  sessions: { id: string; peer?: string; status: string; cols: number }[];
  peers?: { name: string; state: string; stale: boolean; error: string | null }[];
}

let towers: Record<'A' | 'B' | 'C', TestDaemon>;
let tokens: Record<'A' | 'B' | 'C', string>;
const ids: Record<string, string> = {};
const fakes: FakePeer[] = [];
const BASH = { command: '/bin/bash', args: ['--norc', '--noprofile'] };

const onA = (path: string, call: Parameters<typeof api>[2] = {}) =>
  apiJson(towers.A.httpUrl!, path, { token: tokens.A, ...call });
const listAll = async (name: 'A' | 'B' | 'C' = 'A'): Promise<Listed> => {
  const { status, json } = await apiJson(towers[name].httpUrl!, '/api/sessions?scope=all', {
    token: tokens[name],
  });
  expect(status, JSON.stringify(json)).toBe(200);
  return json as unknown as Listed;
};
const remote = (peer: string, id: string) => encodeURIComponent(`${peer}/${id}`);

beforeAll(async () => {
  const [A, B, C] = await Promise.all([startTestDaemon(), startTestDaemon(), startTestDaemon()]);
  towers = { A: A!, B: B!, C: C! };
  tokens = { A: tokenOf(A!), B: tokenOf(B!), C: tokenOf(C!) };
  for (const [self, peer] of [
    ['A', 'B'],
    ['B', 'A'],
    ['B', 'C'],
    ['C', 'B'],
  ] as const) {
    putPeer(towers[self].stateDir, peer, towers[peer].httpUrl!, tokens[peer]);
  }
  // A may only watch C: C grants it a view-scoped peer token, as `tower peer` does it.
  const granted = await runCliOk(C!.stateDir, [
    'peer',
    'add',
    'A',
    A!.httpUrl!,
    '--token',
    tokens.A,
    '--grant',
    'view',
  ]);
  await runCliOk(A!.stateDir, ['peer', 'add', 'C', C!.httpUrl!, '--token', granted.stdout.trim()]);
  for (const name of ['A', 'B', 'C'] as const) {
    const { status, json } = await apiJson(towers[name].httpUrl!, '/api/sessions', {
      method: 'POST',
      token: tokens[name],
      body: BASH,
    });
    expect(status).toBe(201);
    ids[name] = (json as { session: { id: string } }).session.id;
  }
}, 60_000);

afterAll(async () => {
  killLeftovers();
  await Promise.all(fakes.map((fake) => fake.close()));
  await Promise.all(Object.values(towers ?? {}).map((tower) => tower.dispose()));
});

describe('the federated view', () => {
  it('lists every Tower once from each of them, however they loop', async () => {
    for (const [self, others] of [
      ['A', ['B', 'C']],
      ['B', ['A', 'C']],
      ['C', ['A', 'B']],
    ] as const) {
      const listed = await listAll(self);
      const expected = [ids[self]!, ...others.map((peer) => `${peer}/${ids[peer]}`)];
      expect(listed.sessions.map((session) => session.id).sort()).toEqual(expected.sort());
      for (const session of listed.sessions) {
        const [peer, rest] = session.id.split('/');
        expect(session.peer).toBe(rest === undefined ? undefined : peer);
      }
      expect(listed.peers?.map((peer) => [peer.name, peer.state, peer.stale])).toEqual(
        others.map((peer) => [peer, 'online', false]),
      );
    }
  });

  it('answers a peer with its own sessions only (the loop guard)', async () => {
    const { json } = await apiJson(towers.B.httpUrl!, '/api/sessions?scope=all', {
      token: tokens.B,
      headers: { 'x-tower-peer': 'SHA256:someone' },
    });
    expect((json as unknown as Listed).sessions.map((session) => session.id)).toEqual([ids.B]);
    const relayed = await apiJson(towers.B.httpUrl!, `/api/sessions/${remote('C', ids.C!)}`, {
      token: tokens.B,
      headers: { 'x-tower-peer': 'SHA256:someone' },
    });
    expect(relayed.status).toBe(404);
    const streamed = await apiJson(towers.B.httpUrl!, `/api/sessions/${remote('C', ids.C!)}/stream`, {
      token: tokens.B,
      headers: { 'x-tower-peer': 'SHA256:someone' },
    });
    expect([streamed.status, streamed.json.error]).toEqual([404, 'unknown_session']);
  });

  it('shows peers with state, round-trip time, version and scope, in the API and `tower peers`', async () => {
    const { json } = await onA('/api/peers');
    const peers = (json as { peers: Record<string, unknown>[] }).peers;
    expect(peers.map((peer) => [peer.name, peer.state, peer.scope])).toEqual([
      ['B', 'online', 'full'],
      ['C', 'online', 'view'],
    ]);
    expect(peers[0]!.rtt_ms).toEqual(expect.any(Number));
    expect(peers[0]!.version).toMatch(/^\d+\.\d+/);
    expect(JSON.stringify(json)).not.toContain(tokens.B);
    const cli = await runCliOk(towers.A.stateDir, ['peers']);
    expect(cli.stdout).toMatch(/^NAME +URL +FOUND +STATE +RTT +VERSION/);
    expect(cli.stdout).toMatch(new RegExp(`B +${towers.B.httpUrl} +manual +online +\\d+ ms`));
    expect(cli.stdout).toMatch(/C +\S+ +manual +online \(view only\)/);
  });

  it('`tower ls --all` shows every machine', async () => {
    const cli = await runCliOk(towers.A.stateDir, ['ls', '--all']);
    expect(cli.stdout).toContain(ids.A!);
    expect(cli.stdout).toContain(`B/${ids.B}`);
    expect(cli.stdout).toContain(`C/${ids.C}`);
    expect(cli.stdout).not.toContain('! peer');
  });
});

describe("a peer's session through the local Tower", () => {
  it('types, reads the screen and the output, resizes and lists prompts', async () => {
    const id = remote('B', ids.B!);
    const typed = await onA(`/api/sessions/${id}/input`, {
      method: 'POST',
      body: { data: 'echo fleet-$((6*7))\r' },
    });
    expect(typed.status).toBe(200);
    await waitFor(async () => {
      const { json } = await onA(`/api/sessions/${id}/screen`);
      return (json.text as string).includes('fleet-42') && json.session_id === `B/${ids.B}`;
    }, 'the typed command on the remote screen');
    const output = await api(towers.A.httpUrl!, `/api/sessions/${id}/output?from=0`, { token: tokens.A });
    expect(output.status).toBe(200);
    expect(Number(output.headers.get('x-tower-last-offset'))).toBeGreaterThan(0);
    expect(await output.text()).toContain('fleet-42');
    const resized = await onA(`/api/sessions/${id}/resize`, { method: 'POST', body: { cols: 91, rows: 23 } });
    expect(resized.json.session).toMatchObject({ id: `B/${ids.B}`, peer: 'B', cols: 91 });
    const prompts = await onA(`/api/sessions/${id}/prompts`);
    expect(prompts).toEqual({ status: 200, json: { prompts: [] } });
    const bad = await onA(`/api/sessions/${id}/resize`, { method: 'POST', body: { cols: 'x' } });
    expect(bad.status).toBe(400);
    const unknown = await onA(`/api/sessions/${remote('B', 'nope')}/screen`);
    expect([unknown.status, unknown.json.error]).toEqual([404, 'unknown_session']);
    const nobody = await onA(`/api/sessions/${remote('Z', 'x')}/screen`);
    expect([nobody.status, nobody.json.error]).toEqual([404, 'unknown_peer']);
  });

  it('the CLI sends, reads and kills by PEER/ID (or a prefix after it)', async () => {
    const prefix = `B/${ids.B!.slice(0, 6)}`;
    await runCliOk(towers.A.stateDir, ['send', prefix, 'echo cli-$((5*5))', '--enter']);
    await waitFor(
      async () => (await runCliOk(towers.A.stateDir, ['screen', prefix])).stdout.includes('cli-25'),
      'the CLI to see its own text',
    );
    expect((await runCliOk(towers.A.stateDir, ['logs', prefix])).stdout).toContain('cli-25');
    const missing = await runCli(towers.A.stateDir, ['screen', 'B/zzzz']);
    expect([missing.code, missing.stderr]).toEqual([1, 'tower: unknown session: zzzz\n']);
    await runCliOk(towers.A.stateDir, ['kill', `B/${ids.B}`]);
    const after = await listAll();
    expect(after.sessions.find((session) => session.id === `B/${ids.B}`)?.status).toBe('exited');
    await runCliOk(towers.A.stateDir, ['rm', `B/${ids.B}`]);
    const gone = await onA(`/api/sessions/${remote('B', ids.B!)}`);
    expect([gone.status, gone.json.error]).toEqual([404, 'unknown_session']);
  });

  it('prompts an agent and restarts it, ids mapped both ways', async () => {
    const created = await apiJson(towers.B.httpUrl!, '/api/sessions', {
      method: 'POST',
      token: tokens.B,
      body: { runtime: 'shell', name: 'agent-b' },
    });
    const fleetIdOf = `B/${(created.json as { session: { id: string } }).session.id}`;
    await waitFor(
      async () => (await onA(`/api/sessions/${encodeURIComponent(fleetIdOf)}`)).json.session,
      'the agent on B, through A',
    );
    await waitFor(async () => {
      const { json } = await onA(`/api/sessions/${encodeURIComponent(fleetIdOf)}`);
      return (json.session as { agent: { state: string } }).agent.state === 'idle';
    }, 'the agent on B to be idle');
    await runCliOk(towers.A.stateDir, ['send', 'B/agent-b', '--prompt', 'echo prompted-$((3*3))']);
    const { json } = await onA(`/api/sessions/${encodeURIComponent(fleetIdOf)}/prompts`);
    expect(json.prompts).toMatchObject([{ session_id: fleetIdOf, state: 'delivered' }]);
    const listed = await runCliOk(towers.A.stateDir, ['prompts', 'B/agent-b']);
    expect(listed.stdout).toMatch(new RegExp(`${fleetIdOf} +delivered`));
    await waitFor(
      async () => (await runCliOk(towers.A.stateDir, ['screen', fleetIdOf])).stdout.includes('prompted-9'),
      'the prompt to run on B',
    );
    const restarted = await onA(`/api/sessions/${encodeURIComponent(fleetIdOf)}/restart`, {
      method: 'POST',
      body: { resume: false },
    });
    expect(restarted.status).toBe(201);
    expect(restarted.json.session_id).toMatch(/^B\//);
    expect(restarted.json.session).toMatchObject({ peer: 'B', resumed_from: fleetIdOf });
    const again = await runCliOk(towers.A.stateDir, [
      'restart',
      String(restarted.json.session_id),
      '--fresh',
    ]);
    expect(again.stdout).toMatch(/^B\/\S+\n$/);
  });

  it('a view-only credential watches but cannot kill or type', async () => {
    const id = remote('C', ids.C!);
    expect((await onA(`/api/sessions/${id}/screen`)).status).toBe(200);
    const kill = await onA(`/api/sessions/${id}`, { method: 'DELETE' });
    expect([kill.status, kill.json.error]).toEqual([403, 'read_only']);
    const typed = await onA(`/api/sessions/${id}/input`, { method: 'POST', body: { data: 'x' } });
    expect(typed.status).toBe(403);
    const listed = await listAll();
    expect(listed.sessions.find((session) => session.id === `C/${ids.C}`)?.status).toBe('running');
  });
});

describe('peers that fail', () => {
  it('a hanging peer is offline, and the list comes within its timeout', async () => {
    const hang = await hangingPeer();
    fakes.push(hang);
    putPeer(towers.A.stateDir, 'hang', hang.url, 'whatever');
    let started = Date.now();
    let listed = await listAll();
    expect(Date.now() - started).toBeLessThan(1500 + 1500);
    expect(listed.peers?.find((peer) => peer.name === 'hang')).toMatchObject({
      state: 'offline',
      stale: false,
    });
    expect(listed.sessions.map((session) => session.id)).toContain(`C/${ids.C}`);
    // Once known to hang, it is asked in the background only.
    started = Date.now();
    listed = await listAll();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(listed.peers?.find((peer) => peer.name === 'hang')?.state).toBe('offline');
    // A session call to it waits no longer than a list would.
    started = Date.now();
    const screen = await onA(`/api/sessions/${remote('hang', 'x')}/screen`);
    expect([screen.status, screen.json.error]).toEqual([504, 'timeout']);
    expect(Date.now() - started).toBeLessThan(1500 + 1500);
    const cli = await runCliOk(towers.A.stateDir, ['ls', '--all']);
    expect(cli.stdout).toContain(`C/${ids.C}`);
    expect(cli.stdout).toMatch(/! peer hang: offline \(no sessions shown\): timeout/);
    removePeer(towers.A.stateDir, 'hang');
  });

  it('a peer that stops answering keeps its last sessions, marked stale', async () => {
    let hang = false;
    const session = (await listAll()).sessions.find((candidate) => candidate.id === ids.A)!;
    const liar = await lyingPeer((_path, response) => {
      if (hang) return;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ sessions: [{ ...session, id: 'm1' }] }));
    });
    fakes.push(liar);
    putPeer(towers.A.stateDir, 'flaky', liar.url, 'whatever');
    expect((await listAll()).sessions.map((item) => item.id)).toContain('flaky/m1');
    hang = true;
    const listed = await listAll();
    expect(listed.sessions.map((item) => item.id)).toContain('flaky/m1');
    expect(listed.peers?.find((peer) => peer.name === 'flaky')).toMatchObject({
      state: 'offline',
      stale: true,
      error: expect.stringContaining('timeout'),
    });
    removePeer(towers.A.stateDir, 'flaky');
  });

  it('a Tower at a paired URL with another identity is refused, its sessions not listed', async () => {
    const session = (await listAll()).sessions.find((candidate) => candidate.id === ids.A)!;
    let claimed = 'SHA256:paired';
    const impostor = await lyingPeer((_path, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const tower = { name: 'x', version: '1', fingerprint: claimed, scope: 'full' };
      response.end(JSON.stringify({ sessions: [{ ...session, id: 'i1' }], tower }));
    });
    fakes.push(impostor);
    putPeer(towers.A.stateDir, 'paired', impostor.url, 'whatever', 'SHA256:paired');
    expect((await listAll()).sessions.map((item) => item.id)).toContain('paired/i1');
    // Its address now answers as another Tower: what the paired one listed goes too.
    claimed = 'SHA256:impostor';
    const listed = await listAll();
    expect(listed.sessions.map((item) => item.id)).not.toContain('paired/i1');
    expect(listed.peers?.find((peer) => peer.name === 'paired')).toMatchObject({
      state: 'refused',
      error: expect.stringMatching(/^wrong_identity: .* is SHA256:impostor, not the paired SHA256:paired$/),
    });
    removePeer(towers.A.stateDir, 'paired');
  });

  it('a malicious peer: a flood is cut off, a malformed reply is a clear error', async () => {
    let mode: 'flood' | 'declared' | 'malformed' | 'not-json' = 'flood';
    const evil = await lyingPeer((_path, response) => {
      if (mode === 'flood') return flood(response);
      if (mode === 'declared') {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': 1024 ** 3 });
        return void response.write('{');
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(mode === 'malformed' ? '{"sessions":[{"id":7}]}' : '<html>');
    });
    fakes.push(evil);
    putPeer(towers.A.stateDir, 'evil', evil.url, 'whatever');
    const rssBefore = towers.A.rssBytes();
    const flooded = await listAll();
    expect(flooded.peers?.find((peer) => peer.name === 'evil')?.error).toMatch(/^reply_too_large: /);
    await waitFor(() => evil.open() === 0, 'the flood to be hung up on');
    expect(evil.written()).toBeLessThan(64 * 1024 * 1024);
    expect(towers.A.rssBytes() - rssBefore).toBeLessThan(64 * 1024 * 1024);
    const screen = await onA(`/api/sessions/${remote('evil', 'm1')}/screen`);
    expect([screen.status, screen.json.error]).toEqual([502, 'reply_too_large']);
    const output = await onA(`/api/sessions/${remote('evil', 'm1')}/output`);
    expect([output.status, output.json.error]).toEqual([502, 'reply_too_large']);

    for (const [which, code] of [
      ['declared', 'reply_too_large'],
      ['malformed', 'bad_reply'],
      ['not-json', 'bad_reply'],
    ] as const) {
      mode = which;
      const listed = await listAll();
      expect(listed.peers?.find((peer) => peer.name === 'evil')?.error, which).toMatch(
        new RegExp(`^${code}: `),
      );
      expect(listed.sessions.map((item) => item.id)).toContain(`C/${ids.C}`);
      const got = await onA(`/api/sessions/${remote('evil', 'm1')}`);
      expect([got.status, got.json.error], which).toEqual([502, code]);
    }
  });
});
