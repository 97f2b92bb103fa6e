/**
 * The web workspace's HTTP API over the real daemon (`tower serve --port 0`), with real HTTP:
 * auth (tokens, viewer tokens, cookies, Origin), REST routes, the OpenAPI document.
 * Server-sent events are in http-sse.test.ts, `tower serve` flags in http-serve.test.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { runCli } from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { type ApiCall, api, parseSetCookie } from './support/http.js';

let daemon: TestDaemon;
let client: TowerClient;
let base: string;
let token: string;
let viewerToken: string;
let sessionId: string;

const call = (path: string, options: ApiCall = {}) => api(base, path, options);
const admin = (path: string, options: ApiCall = {}) => call(path, { token, ...options });
const BASH = { command: '/bin/bash', args: ['--norc', '--noprofile'] };

async function createSession(body: Record<string, unknown> = BASH): Promise<string> {
  const response = await admin('/api/sessions', { method: 'POST', body });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { session: { id: string } }).session.id;
}

async function screenText(id: string): Promise<string> {
  return ((await (await admin(`/api/sessions/${id}/screen`)).json()) as { text: string }).text;
}

beforeAll(async () => {
  daemon = await startTestDaemon();
  client = await daemon.connect();
  base = daemon.httpUrl!;
  token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
  const viewer = await runCli(daemon.stateDir, ['token', '--viewer']);
  viewerToken = viewer.stdout.trim();
  expect(viewerToken).toMatch(/^[0-9a-f]{64}$/);
  expect(statSync(join(daemon.stateDir, 'viewer-token')).mode & 0o777).toBe(0o600);
  expect((await runCli(daemon.stateDir, ['token', '--viewer'])).stdout.trim()).toBe(viewerToken);
  sessionId = await createSession();
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
});

describe('auth', () => {
  const routes = () => [
    { method: 'GET', path: '/api/runtimes' },
    { method: 'GET', path: '/api/sessions' },
    { method: 'GET', path: '/api/openapi.json' },
    { method: 'GET', path: `/api/sessions/${sessionId}` },
    { method: 'GET', path: `/api/sessions/${sessionId}/screen` },
    { method: 'GET', path: `/api/sessions/${sessionId}/output?from=0` },
    { method: 'POST', path: '/api/sessions', body: BASH },
    { method: 'POST', path: `/api/sessions/${sessionId}/input`, body: { data: '' } },
    { method: 'POST', path: `/api/sessions/${sessionId}/resize`, body: { cols: 80, rows: 24 } },
    { method: 'GET', path: `/api/sessions/${sessionId}/prompts` },
    { method: 'GET', path: '/api/prompts' },
    { method: 'POST', path: `/api/sessions/${sessionId}/prompt`, body: { text: 'echo no' } },
    { method: 'POST', path: `/api/sessions/${sessionId}/restart`, body: {} },
    { method: 'POST', path: '/api/dispatch', body: { runtime: 'shell', text: 'echo no' } },
    { method: 'DELETE', path: '/api/prompts/p-0' },
    { method: 'DELETE', path: `/api/sessions/${sessionId}` },
  ];

  it('refuses a Host that does not name this server (DNS rebinding), even on public routes', async () => {
    const port = new URL(base).port;
    const get = (host: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(`${base}/api/health`, { headers: { ...headers, host } }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
        request.end();
      });
    const rebound = await get(`attacker.example:${port}`);
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: 'bad_host' });
    expect((await get(`attacker.example:${port}`, { authorization: `Bearer ${token}` })).status).toBe(403);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `10.0.0.7:${port}`]) {
      expect((await get(host)).status, host).toBe(200);
    }
  });

  it('serves health and the login page without auth, with a CSP that allows only its own script', async () => {
    const health = await call('/api/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const page = await call('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*script-src 'sha256-/);
    // The minimal login page, or the built web app (web/dist) when present: both log in the same way.
    expect(await page.text()).toContain('/api/login');
  });

  it('refuses every other route without a token or with a wrong one (401)', async () => {
    for (const route of [...routes(), { method: 'GET', path: '/api/nope' }]) {
      const none = await call(route.path, { method: route.method, body: route.body });
      expect(none.status, `${route.method} ${route.path}`).toBe(401);
      expect(await none.json()).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
      const wrong = await call(route.path, { method: route.method, body: route.body, token: 'f'.repeat(64) });
      expect(wrong.status, `${route.method} ${route.path}`).toBe(401);
      expect(await wrong.text()).not.toContain(token);
    }
  });

  it('lets a viewer token read (200) but not change anything (403)', async () => {
    for (const route of routes()) {
      const response = await call(route.path, { method: route.method, body: route.body, token: viewerToken });
      expect(response.status, `${route.method} ${route.path}`).toBe(route.method === 'GET' ? 200 : 403);
    }
    expect((await admin(`/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('refuses a foreign Origin even with a valid token, and a cookie without Origin', async () => {
    const input = `/api/sessions/${sessionId}/input`;
    const evil = await admin(input, { method: 'POST', body: { data: '' }, origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect((await evil.json()).error).toBe('bad_origin');
    const lookalike = await admin(input, {
      method: 'POST',
      body: { data: '' },
      origin: `${base}.evil.example`,
    });
    expect(lookalike.status).toBe(403);
    const own = await admin(input, { method: 'POST', body: { data: '' }, origin: base });
    expect(own.status).toBe(200);
  });

  it('logs in: the cookie is HttpOnly, SameSite=Strict, holds no token, and authenticates', async () => {
    const wrong = await call('/api/login', { method: 'POST', body: { token: 'f'.repeat(64) }, origin: base });
    expect(wrong.status).toBe(401);
    const foreign = await call('/api/login', {
      method: 'POST',
      body: { token },
      origin: 'http://evil.example',
    });
    expect(foreign.status).toBe(403);

    const login = await call('/api/login', { method: 'POST', body: { token }, origin: base });
    expect(login.status).toBe(200);
    expect(await login.json()).toEqual({ role: 'admin' });
    const { pair, attributes } = parseSetCookie(login.headers.get('set-cookie'));
    expect(attributes).toEqual(expect.arrayContaining(['httponly', 'samesite=strict', 'path=/']));
    expect(attributes).not.toContain('secure');
    expect(pair).not.toContain(token);

    const list = await call('/api/sessions', { cookie: pair });
    expect(list.status).toBe(200);
    expect((await list.json()).sessions.map((s: { id: string }) => s.id)).toContain(sessionId);
    const input = `/api/sessions/${sessionId}/input`;
    expect(
      (await call(input, { method: 'POST', body: { data: '' }, cookie: pair, origin: base })).status,
    ).toBe(200);
    expect((await call(input, { method: 'POST', body: { data: '' }, cookie: pair })).status).toBe(403);
    const tampered = `${pair.slice(0, -2)}xx`;
    expect((await call('/api/sessions', { cookie: tampered })).status).toBe(401);
  });

  it('logs out: the cookie is cleared, from an allowed Origin only', async () => {
    const login = await call('/api/login', { method: 'POST', body: { token }, origin: base });
    const { pair } = parseSetCookie(login.headers.get('set-cookie'));
    const name = pair.split('=')[0]!;
    const foreign = await call('/api/logout', {
      method: 'POST',
      cookie: pair,
      origin: 'http://evil.example',
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('set-cookie')).toBeNull();

    const logout = await call('/api/logout', { method: 'POST', cookie: pair, origin: base });
    expect(logout.status).toBe(200);
    expect(await logout.json()).toEqual({ ok: true });
    const cleared = parseSetCookie(logout.headers.get('set-cookie'));
    expect(cleared.pair).toBe(`${name}=`);
    expect(cleared.attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=strict']));
    const expires = cleared.attributes.find((a) => a.startsWith('expires='));
    const maxAge = cleared.attributes.find((a) => a.startsWith('max-age='));
    expect(maxAge === 'max-age=0' || (expires && Date.parse(expires.slice(8)) < Date.now())).toBe(true);
    // Without a cookie (as the browser now is): 401. Logging out again is harmless.
    expect((await call('/api/sessions', { cookie: cleared.pair })).status).toBe(401);
    expect((await call('/api/logout', { method: 'POST', origin: base })).status).toBe(200);
  });

  it('gives a viewer login a read-only cookie', async () => {
    const login = await call('/api/login', { method: 'POST', body: { token: viewerToken }, origin: base });
    expect(await login.json()).toEqual({ role: 'viewer' });
    const { pair } = parseSetCookie(login.headers.get('set-cookie'));
    expect((await call('/api/sessions', { cookie: pair })).status).toBe(200);
    const input = `/api/sessions/${sessionId}/input`;
    const typed = await call(input, { method: 'POST', body: { data: 'x' }, cookie: pair, origin: base });
    expect(typed.status).toBe(403);
  });
});

describe('REST', () => {
  it('answers malformed JSON, bad fields and unknown ids with clear errors', async () => {
    const malformed = await admin('/api/sessions', { method: 'POST', body: '{"command": ' });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).message).toMatch(/JSON/);
    const badType = await admin('/api/sessions', { method: 'POST', body: { cols: 'wide' } });
    expect(badType.status).toBe(400);
    expect((await badType.json()).message).toContain('cols');
    const badResize = await admin(`/api/sessions/${sessionId}/resize`, { method: 'POST', body: { cols: 0 } });
    expect(badResize.status).toBe(400);
    expect((await badResize.json()).message).toMatch(/cols.*rows|rows.*cols/);
    const extra = await admin('/api/sessions', { method: 'POST', body: { shell: '/bin/sh' } });
    expect((await extra.json()).message).toContain('shell');
    const badCwd = await admin('/api/sessions', { method: 'POST', body: { cwd: '/no/such/dir' } });
    expect(badCwd.status).toBe(400);
    expect(await badCwd.json()).toMatchObject({ error: 'bad_cwd' });
    const badQuery = await admin(`/api/sessions/${sessionId}/output?from=abc`);
    expect(badQuery.status).toBe(400);
    expect((await badQuery.json()).message).toContain('from');

    for (const [method, path, body] of [
      ['GET', '/api/sessions/nope', undefined],
      ['GET', '/api/sessions/nope/screen', undefined],
      ['GET', '/api/sessions/nope/output', undefined],
      ['POST', '/api/sessions/nope/input', { data: 'x' }],
      ['POST', '/api/sessions/nope/resize', { cols: 10, rows: 10 }],
      ['DELETE', '/api/sessions/nope', undefined],
    ] as const) {
      const response = await admin(path, { method, body });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toEqual({ error: 'unknown_session', message: 'unknown session: nope' });
    }
  });

  it('lists runtimes from the daemon: the shell is installed and ready', async () => {
    const runtimes = await (await admin('/api/runtimes')).json();
    expect(runtimes.find((runtime: { name: string }) => runtime.name === 'shell')).toMatchObject({
      name: 'shell',
      installed: true,
      ready: true,
      missing: [],
      fix: null,
    });
    expect(runtimes.length).toBeGreaterThan(1);
  });

  it('runs a session: create, type, screen, output, resize, close, remove', async () => {
    const id = await createSession({ ...BASH, name: 'web', cols: 90, rows: 30 });
    const info = (await (await admin(`/api/sessions/${id}`)).json()).session;
    expect(info).toMatchObject({
      id,
      name: 'web',
      status: 'running',
      cols: 90,
      rows: 30,
      shell: '/bin/bash',
    });

    const typed = await admin(`/api/sessions/${id}/input`, {
      method: 'POST',
      body: { data: 'echo hi-$((6*7))\r' },
    });
    expect(await typed.json()).toEqual({ ok: true });
    await waitFor(async () => (await screenText(id)).includes('\nhi-42'), 'hi-42 on the screen');
    const base64 = Buffer.from('echo b64-$((1+1))\r').toString('base64');
    await admin(`/api/sessions/${id}/input`, { method: 'POST', body: { data_base64: base64 } });
    await waitFor(async () => (await screenText(id)).includes('\nb64-2'), 'b64-2 on the screen');

    const screen = await (await admin(`/api/sessions/${id}/screen`)).json();
    expect(screen).toMatchObject({ session_id: id, cols: 90, rows: 30, cursor_x: expect.any(Number) });
    const ansi = await (await admin(`/api/sessions/${id}/screen?format=ansi`)).json();
    expect(ansi.ansi).toContain('hi-42');
    expect(typeof ansi.alt_screen).toBe('boolean');

    const end = screen.offset as number;
    const output = await admin(`/api/sessions/${id}/output?from=0&to=${end}`);
    expect(output.headers.get('content-type')).toBe('application/octet-stream');
    expect(output.headers.get('x-tower-offset')).toBe('0');
    expect(output.headers.get('x-tower-first-offset')).toBe('0');
    expect(Number(output.headers.get('x-tower-last-offset'))).toBeGreaterThanOrEqual(end);
    const bytes = Buffer.from(await output.arrayBuffer());
    expect(bytes.length).toBe(end);
    expect(bytes.equals((await readAllOutput(client, id, 0)).subarray(0, end))).toBe(true);
    const tail = Buffer.from(
      await (await admin(`/api/sessions/${id}/output?from=5&to=${end}`)).arrayBuffer(),
    );
    expect(tail.equals(bytes.subarray(5))).toBe(true);
    const missing = await admin(`/api/sessions/${id}/output?from=${end + 1_000_000}`);
    expect(missing.status).toBe(416);
    expect((await missing.json()).message).toContain('not retained');

    const resized = await admin(`/api/sessions/${id}/resize`, {
      method: 'POST',
      body: { cols: 101, rows: 41 },
    });
    expect((await resized.json()).session).toMatchObject({ cols: 101, rows: 41 });
    await admin(`/api/sessions/${id}/input`, { method: 'POST', body: { data: 'stty size\r' } });
    await waitFor(async () => (await screenText(id)).includes('\n41 101'), 'stty size = 41 101');

    const closed = await admin(`/api/sessions/${id}`, { method: 'DELETE' });
    expect(closed.status).toBe(200);
    expect((await closed.json()).session.status).toBe('exited');
    expect((await admin(`/api/sessions/${id}`)).status).toBe(200);
    const removed = await admin(`/api/sessions/${id}?remove=1`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect((await admin(`/api/sessions/${id}`)).status).toBe(404);
  });

  it('publishes an OpenAPI 3.1 document listing every route with its schemas', async () => {
    const document = await (await admin('/api/openapi.json')).json();
    expect(document.openapi).toBe('3.1.0');
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /api/health',
        'POST /api/login',
        'GET /api/runtimes',
        'GET /api/sessions',
        'POST /api/sessions',
        'GET /api/sessions/{id}',
        'DELETE /api/sessions/{id}',
        'POST /api/sessions/{id}/input',
        'POST /api/sessions/{id}/resize',
        'GET /api/sessions/{id}/screen',
        'GET /api/sessions/{id}/output',
        'GET /api/sessions/{id}/stream',
        'GET /api/events',
        'GET /api/openapi.json',
        'POST /api/logout',
        'POST /api/sessions/{id}/prompt',
        'GET /api/sessions/{id}/prompts',
        'GET /api/prompts',
        'DELETE /api/prompts/{id}',
        'POST /api/dispatch',
        'POST /api/sessions/{id}/restart',
      ]),
    );
    const prompt = document.paths['/api/sessions/{id}/prompt'].post;
    expect(prompt.requestBody.content['application/json'].schema.required).toEqual(['text']);
    expect(prompt.responses['202'].content['application/json'].schema.properties.prompt).toBeDefined();
    expect(document.paths['/api/sessions'].post.responses['409'].description).toMatch(/runtime_blocked/);
    expect(document.paths['/api/prompts/{id}'].delete.responses['404'].description).toMatch(/unknown_prompt/);
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['SessionInfo', 'RuntimeInfo', 'PromptInfo', 'AttentionEvent', 'ApiError']),
    );
    const create = document.paths['/api/sessions'].post;
    expect(create.requestBody.content['application/json'].schema.properties.cols.type).toBe('integer');
    expect(create.responses['201'].content['application/json'].schema.properties.session).toBeDefined();
    const output = document.paths['/api/sessions/{id}/output'].get;
    expect(output.parameters.map((p: { name: string }) => p.name)).toEqual(['id', 'from', 'to']);
  });
});

describe('token rotation', () => {
  it('voids cookies and the old token; the new one works, also for new streams', async () => {
    const login = await call('/api/login', { method: 'POST', body: { token }, origin: base });
    const { pair } = parseSetCookie(login.headers.get('set-cookie'));
    expect((await call('/api/sessions', { cookie: pair })).status).toBe(200);
    const rotated = await runCli(daemon.stateDir, ['token', '--rotate']);
    const fresh = rotated.stdout.trim();
    expect(fresh).not.toBe(token);
    expect((await call('/api/sessions', { cookie: pair })).status).toBe(401);
    expect((await call('/api/sessions', { token })).status).toBe(401);
    expect((await call('/api/sessions', { token: fresh })).status).toBe(200);
    const stream = await call(`/api/sessions/${sessionId}/stream`, { token: fresh });
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    token = fresh;
  });
});
