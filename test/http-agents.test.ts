/**
 * The agent routes of the web API over the real daemon, with real HTTP: runtimes and the credential
 * gate, prompts (delivered, queued, cancelled), dispatch and restart. The daemon's state dir holds
 * a runtimes.json with a scripted agent and a runtime that is always blocked (support/web-runtimes.ts).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { type ApiCall, api } from './support/http.js';
import { BLOCKED_FIX, stateDirWithRuntimes, UNSET_CREDENTIAL } from './support/web-runtimes.js';

let daemon: TestDaemon;
let base: string;
let token: string;
let viewerToken: string;

const admin = (path: string, options: ApiCall = {}) => api(base, path, { token, ...options });

// biome-ignore lint/suspicious/noExplicitAny: JSON from the server, checked field by field
async function json(response: Response, status: number): Promise<any> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text);
}

async function spawn(body: Record<string, unknown>): Promise<string> {
  return (await json(await admin('/api/sessions', { method: 'POST', body }), 201)).session.id;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from the server
async function session(id: string): Promise<any> {
  return (await json(await admin(`/api/sessions/${id}`), 200)).session;
}

async function screenText(id: string): Promise<string> {
  return (await json(await admin(`/api/sessions/${id}/screen`), 200)).text;
}

const agentState = async (id: string, state: string) =>
  waitFor(async () => (await session(id)).agent.state === state, `session ${id} to be ${state}`, 15_000);

beforeAll(async () => {
  daemon = await startTestDaemon({ stateDir: stateDirWithRuntimes() });
  base = daemon.httpUrl!;
  token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
  viewerToken = (await runCli(daemon.stateDir, ['token', '--viewer'])).stdout.trim();
});

afterAll(async () => {
  await daemon?.dispose();
});

describe('runtimes and the credential gate', () => {
  it('lists every runtime with its readiness, what blocks it and how to fix it', async () => {
    const runtimes = await json(await admin('/api/runtimes'), 200);
    const names = runtimes.map((runtime: { name: string }) => runtime.name);
    expect(names).toEqual(expect.arrayContaining(['shell', 'claude', 'codex', 'fakeagent', 'blocked']));
    for (const runtime of runtimes) {
      expect(Object.keys(runtime).sort()).toEqual(
        [
          'answers',
          'can_resume',
          'command',
          'custom',
          'description',
          'fix',
          'installed',
          'missing',
          'name',
          'path',
          'ready',
          'status_channel',
          'version',
        ].sort(),
      );
      // Ready means nothing is missing; blocked means something is, and there is a fix.
      expect(runtime.ready).toBe(runtime.missing.length === 0);
      if (!runtime.ready) expect(runtime.fix).toEqual(expect.any(String));
    }
    const byName = Object.fromEntries(runtimes.map((r: { name: string }) => [r.name, r]));
    expect(byName.shell).toMatchObject({
      installed: true,
      ready: true,
      custom: false,
      status_channel: 'process',
    });
    expect(byName.fakeagent).toMatchObject({ installed: true, ready: true, custom: true, path: '/bin/sh' });
    expect(byName.blocked).toMatchObject({
      installed: true,
      ready: false,
      custom: true,
      missing: [expect.stringContaining(`$${UNSET_CREDENTIAL}`)],
      fix: BLOCKED_FIX,
    });
    // A viewer may read it too.
    expect((await api(base, '/api/runtimes', { token: viewerToken })).status).toBe(200);
  });

  it('refuses an unknown runtime (400) and a blocked one (409, with the gate message)', async () => {
    const unknown = await json(
      await admin('/api/sessions', { method: 'POST', body: { runtime: 'nosuchagent' } }),
      400,
    );
    expect(unknown.error).toBe('unknown_runtime');
    expect(unknown.message).toContain('nosuchagent');
    const blocked = await json(
      await admin('/api/sessions', { method: 'POST', body: { runtime: 'blocked' } }),
      409,
    );
    expect(blocked.error).toBe('runtime_blocked');
    expect(blocked.message).toContain(`$${UNSET_CREDENTIAL}`);
    expect(blocked.message).toContain(BLOCKED_FIX);
    const both = await json(
      await admin('/api/sessions', { method: 'POST', body: { runtime: 'shell', command: '/bin/sh' } }),
      400,
    );
    expect(both.message).toMatch(/runtime or command/);
    const sessions = (await json(await admin('/api/sessions'), 200)).sessions;
    expect(sessions.filter((s: { runtime: string }) => s.runtime === 'blocked')).toEqual([]);
  });

  it('spawns a runtime with extra arguments; the session says which runtime and its agent state', async () => {
    const id = await spawn({ runtime: 'fakeagent', name: 'agent-a', args: ['extra-arg'] });
    const info = await session(id);
    expect(info).toMatchObject({
      runtime: 'fakeagent',
      name: 'agent-a',
      queued_prompts: 0,
      resumed_from: null,
    });
    expect(info.args).toEqual(['extra-arg']);
    expect(['starting', 'idle']).toContain(info.agent.state);
    await agentState(id, 'idle');
  });
});

describe('prompts', () => {
  it('delivers a prompt to a shell: 202, then its output on the screen, then listed as delivered', async () => {
    const id = await spawn({ runtime: 'shell', name: 'prompted' });
    await agentState(id, 'idle');
    const accepted = await json(
      await admin(`/api/sessions/${id}/prompt`, { method: 'POST', body: { text: 'echo prompted-$((6*7))' } }),
      202,
    );
    expect(accepted.prompt).toMatchObject({ session_id: id, text: 'echo prompted-$((6*7))' });
    expect(['queued', 'delivering']).toContain(accepted.prompt.state);
    await waitFor(async () => /^prompted-42$/m.test(await screenText(id)), 'the prompt output', 15_000);
    await waitFor(async () => {
      const { prompts } = await json(await admin(`/api/sessions/${id}/prompts`), 200);
      return prompts.find(
        (p: { id: string; state: string }) => p.id === accepted.prompt.id && p.state === 'delivered',
      );
    }, 'the prompt to be listed as delivered');
    const all = (await json(await admin('/api/prompts'), 200)).prompts;
    expect(all.map((p: { id: string }) => p.id)).toContain(accepted.prompt.id);
  });

  it('queues a prompt while the agent is busy; a queued prompt can be cancelled, once', async () => {
    const id = await spawn({ runtime: 'shell' });
    await agentState(id, 'idle');
    await json(
      await admin(`/api/sessions/${id}/input`, { method: 'POST', body: { data: 'sleep 30\r' } }),
      200,
    );
    await agentState(id, 'busy');
    const queued = (
      await json(
        await admin(`/api/sessions/${id}/prompt`, { method: 'POST', body: { text: 'echo later' } }),
        202,
      )
    ).prompt;
    expect(queued.state).toBe('queued');
    expect((await session(id)).queued_prompts).toBe(1);

    const viewerCancel = await api(base, `/api/prompts/${queued.id}`, {
      method: 'DELETE',
      token: viewerToken,
    });
    expect(viewerCancel.status).toBe(403);
    const cancelled = await json(await admin(`/api/prompts/${queued.id}`, { method: 'DELETE' }), 200);
    expect(cancelled.prompt).toMatchObject({ id: queued.id, state: 'cancelled' });
    expect((await session(id)).queued_prompts).toBe(0);
    const again = await json(await admin(`/api/prompts/${queued.id}`, { method: 'DELETE' }), 409);
    expect(again.error).toBe('prompt_not_queued');
    const unknown = await json(await admin('/api/prompts/p-nope', { method: 'DELETE' }), 404);
    expect(unknown.error).toBe('unknown_prompt');
    await json(await admin(`/api/sessions/${id}`, { method: 'DELETE' }), 200);
  });

  it('refuses bad prompt bodies (400), unknown sessions (404), exited ones (409) and viewers (403)', async () => {
    const id = await spawn({ command: '/bin/sh', args: ['-c', 'read x'] });
    for (const body of [{}, { text: '' }, { text: 42 }, { text: 'x', extra: 1 }, '{"text": ']) {
      const response = await admin(`/api/sessions/${id}/prompt`, { method: 'POST', body });
      const problem = await json(response, 400);
      expect(problem.error, JSON.stringify(body)).toMatch(/^bad_(request|json)$/);
      expect(problem.message).toMatch(/text|extra|JSON/);
    }
    const unknown = await json(
      await admin('/api/sessions/nope/prompt', { method: 'POST', body: { text: 'x' } }),
      404,
    );
    expect(unknown).toEqual({ error: 'unknown_session', message: 'unknown session: nope' });
    const viewer = await api(base, `/api/sessions/${id}/prompt`, {
      method: 'POST',
      token: viewerToken,
      body: { text: 'echo nope' },
    });
    expect(viewer.status).toBe(403);
    expect((await viewer.json()).error).toBe('read_only');
    await admin(`/api/sessions/${id}`, { method: 'DELETE' });
    const exited = await json(
      await admin(`/api/sessions/${id}/prompt`, { method: 'POST', body: { text: 'x' } }),
      409,
    );
    expect(exited.error).toBe('session_not_running');
  });
});

describe('dispatch and restart', () => {
  it('dispatches to a new session of the runtime in the given cwd, then to the idle one', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tower-dispatch-'));
    const first = await json(
      await admin('/api/dispatch', { method: 'POST', body: { runtime: 'fakeagent', cwd, text: 'task one' } }),
      202,
    );
    expect(first).toMatchObject({ spawned: true, session_id: expect.any(String) });
    expect(first.prompt).toMatchObject({ session_id: first.session_id, text: 'task one' });
    expect(await session(first.session_id)).toMatchObject({ runtime: 'fakeagent', cwd });
    await waitFor(
      async () => (await screenText(first.session_id)).includes('working on: task one'),
      'task one',
    );
    await agentState(first.session_id, 'needs_input');
    // Answered: back at its prompt, idle; the next dispatch goes to it rather than a new session.
    await admin(`/api/sessions/${first.session_id}/input`, { method: 'POST', body: { data: 'y\r' } });
    await agentState(first.session_id, 'idle');
    const second = await json(
      await admin('/api/dispatch', { method: 'POST', body: { runtime: 'fakeagent', cwd, text: 'task two' } }),
      202,
    );
    expect(second).toMatchObject({ spawned: false, session_id: first.session_id });

    const bad = await json(
      await admin('/api/dispatch', { method: 'POST', body: { runtime: 'fakeagent' } }),
      400,
    );
    expect(bad.message).toContain('text');
    const blocked = await json(
      await admin('/api/dispatch', { method: 'POST', body: { runtime: 'blocked', cwd, text: 'x' } }),
      409,
    );
    expect(blocked.message).toContain(BLOCKED_FIX);
    const viewer = await api(base, '/api/dispatch', {
      method: 'POST',
      token: viewerToken,
      body: { runtime: 'fakeagent', text: 'x' },
    });
    expect(viewer.status).toBe(403);
  });

  it('restarts a session: a new one in the same cwd, linked to the old one, which has ended', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tower-restart-'));
    const id = await spawn({ runtime: 'fakeagent', cwd, name: 'again' });
    const viewer = await api(base, `/api/sessions/${id}/restart`, {
      method: 'POST',
      token: viewerToken,
      body: {},
    });
    expect(viewer.status).toBe(403);
    const restarted = await json(
      await admin(`/api/sessions/${id}/restart`, { method: 'POST', body: {} }),
      201,
    );
    expect(restarted.session_id).not.toBe(id);
    expect(restarted.session).toMatchObject({
      id: restarted.session_id,
      runtime: 'fakeagent',
      cwd,
      name: 'again',
      resumed_from: id,
      status: 'running',
    });
    expect((await session(id)).status).toBe('exited');
    const unknown = await json(await admin('/api/sessions/nope/restart', { method: 'POST', body: {} }), 404);
    expect(unknown.error).toBe('unknown_session');
  });
});
