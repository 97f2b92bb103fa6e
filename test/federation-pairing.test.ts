/**
 * Pairing between real Towers (`tower serve --port 0`, each with its own state dir, on 127.0.0.1):
 * one shows a code, the other types it; wrong and expired codes; peer tokens by scope; revocation.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIdentity } from '../dist/state/identity.js';
import { AttachedTerminal, cliEnv, killLeftovers, runCli, runCliOk, startCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN, waitFor } from './support/daemon.js';
import { freePort } from './support/federation.js';
import { api, apiJson } from './support/http.js';

let alpha: TestDaemon;
let beta: TestDaemon;
let gamma: TestDaemon;

beforeAll(async () => {
  [alpha, beta, gamma] = await Promise.all(
    ['alpha', 'beta', 'gamma'].map((name) => startTestDaemon({ serveArgs: ['--name', name] })),
  );
}, 60_000);

afterAll(async () => {
  killLeftovers();
  await Promise.all([alpha, beta, gamma].map((daemon) => daemon?.dispose()));
});

interface PeerFileRecord {
  name: string;
  url: string;
  fingerprint: string | null;
  public_key: string | null;
  token: string | null;
  granted: { token_sha256: string; scope: string } | null;
  given: string | null;
  added_by: string;
}

function peersOf(daemon: TestDaemon): PeerFileRecord[] {
  try {
    return (
      JSON.parse(readFileSync(join(daemon.stateDir, 'peers.json'), 'utf8')) as { peers: PeerFileRecord[] }
    ).peers;
  } catch {
    return [];
  }
}

function peer(daemon: TestDaemon, name: string): PeerFileRecord {
  const found = peersOf(daemon).find((record) => record.name === name);
  if (!found) throw new Error(`${daemon.stateDir} has no peer ${name}`);
  return found;
}

/** `tower peer pair` on the side that shows the code, and the code once printed. */
async function offer(daemon: TestDaemon, args: string[] = []) {
  const running = startCli(daemon.stateDir, ['peer', 'pair', ...args]);
  const code = await waitFor(() => /Pairing code: (\S+)/.exec(running.stdout())?.[1], 'the pairing code');
  expect(running.stdout()).toContain(`tower peer pair ${daemon.httpUrl}`);
  expect(running.stdout()).toContain(loadIdentity(daemon.stateDir).fingerprint);
  return { running, code };
}

/** The code shown with one character changed. */
function wrongCode(code: string, index: number): string {
  const alphabet = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
  const chars = [...code.replace('-', '')];
  chars[index] = alphabet[(alphabet.indexOf(chars[index]!) + 1) % alphabet.length]!;
  return chars.join('');
}

const sessionsOf = (daemon: TestDaemon, token: string) =>
  apiJson(daemon.httpUrl!, '/api/sessions', { token });
const spawnOn = (daemon: TestDaemon, token: string) =>
  apiJson(daemon.httpUrl!, '/api/sessions', { method: 'POST', token, body: { command: 'true' } });

describe('tower peer pair', () => {
  it('pairs two Towers: one shows the code, the other has it typed at its prompt', async () => {
    const shown = await offer(beta);
    const typing = new AttachedTerminal(alpha.stateDir, ['peer', 'pair', beta.httpUrl!, '--scope', 'view']);
    await waitFor(() => typing.output.includes('Pairing code'), 'the prompt for the code');
    typing.type(`${shown.code.toLowerCase()}\r`);
    const exit = await typing.waitForExit(20_000);
    expect(exit.exitCode, typing.output).toBe(0);
    expect(typing.output).toContain('Paired with beta');
    const done = await shown.running.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('Paired with alpha');

    const [alphaId, betaId] = [loadIdentity(alpha.stateDir), loadIdentity(beta.stateDir)];
    const onAlpha = peer(alpha, 'beta');
    const onBeta = peer(beta, 'alpha');
    expect(onAlpha).toMatchObject({ url: beta.httpUrl, fingerprint: betaId.fingerprint, added_by: 'paired' });
    expect(onBeta).toMatchObject({
      url: alpha.httpUrl,
      fingerprint: alphaId.fingerprint,
      added_by: 'paired',
    });
    expect(onAlpha.public_key).toBe(betaId.publicKeyRaw);
    expect(onAlpha.granted?.scope).toBe('view');
    expect(onBeta.granted?.scope).toBe('full');
    expect([onAlpha.given, onBeta.given]).toEqual(['full', 'view']);
    for (const daemon of [alpha, beta]) {
      expect(statSync(join(daemon.stateDir, 'peers.json')).mode & 0o777).toBe(0o600);
      expect(statSync(join(daemon.stateDir, 'identity.json')).mode & 0o777).toBe(0o600);
    }
    // Neither the code nor a token is ever printed by the servers.
    for (const secret of [shown.code, onAlpha.token!, onBeta.token!]) {
      expect(alpha.output()).not.toContain(secret);
      expect(beta.output()).not.toContain(secret);
    }

    // alpha may do everything on beta; beta may only watch on alpha.
    expect((await sessionsOf(beta, onAlpha.token!)).status).toBe(200);
    expect((await spawnOn(beta, onAlpha.token!)).status).toBe(201);
    expect((await sessionsOf(alpha, onBeta.token!)).status).toBe(200);
    const refused = await spawnOn(alpha, onBeta.token!);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: 'read_only' });
    expect(String(refused.json.message)).toContain('peer beta');
  }, 60_000);

  it('a peer token is not the owner: no pairing, no login', async () => {
    const token = peer(alpha, 'beta').token!;
    const opened = await apiJson(beta.httpUrl!, '/api/peers/pair/offer', { method: 'POST', token, body: {} });
    expect(opened.status).toBe(403);
    expect(opened.json).toMatchObject({ error: 'owner_only' });
    const login = await apiJson(beta.httpUrl!, '/api/login', { method: 'POST', body: { token } });
    expect(login.status).not.toBe(200);
  });

  it('a wrong code is refused on both sides, and after three the offer is void', async () => {
    const before = [peersOf(beta).length, peersOf(gamma).length];
    const shown = await offer(beta);
    for (const attempt of [1, 2]) {
      const wrong = await runCli(gamma.stateDir, [
        'peer',
        'pair',
        beta.httpUrl!,
        '--code',
        wrongCode(shown.code, attempt),
      ]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`wrong pairing code (${attempt} of 3 attempts used)`);
      await waitFor(
        () => shown.running.stderr().includes(`a wrong code was tried (${attempt} of 3`),
        'the report',
      );
    }
    const last = await runCli(gamma.stateDir, [
      'peer',
      'pair',
      beta.httpUrl!,
      '--code',
      wrongCode(shown.code, 3),
    ]);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('the last of 3 attempts, so the offer is void');
    const done = await shown.running.done;
    expect(done.code).toBe(1);
    expect(done.stderr).toContain('too many wrong codes');
    // The right code comes too late.
    const late = await runCli(gamma.stateDir, ['peer', 'pair', beta.httpUrl!, '--code', shown.code]);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/void|no pairing offer/);
    expect([peersOf(beta).length, peersOf(gamma).length]).toEqual(before);
  }, 60_000);

  it('an expired code is refused', async () => {
    const shown = await offer(beta, ['--ttl', '1']);
    const done = await shown.running.done;
    expect(done.code).toBe(1);
    expect(done.stderr).toContain('expired');
    const late = await runCli(gamma.stateDir, ['peer', 'pair', beta.httpUrl!, '--code', shown.code]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('expired');
    expect(peersOf(gamma).some((record) => record.name === 'beta')).toBe(false);
  }, 30_000);

  it('reads the code from standard input; a view-scope offer gives view only', async () => {
    const shown = await offer(beta, ['--scope', 'view']);
    const child = spawn(
      process.execPath,
      [TOWER_BIN, '--state-dir', gamma.stateDir, 'peer', 'pair', beta.httpUrl!],
      {
        env: cliEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stdin.end(`${shown.code}\n`);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, out).toBe(0);
    expect((await shown.running.done).code).toBe(0);
    const token = peer(gamma, 'beta').token!;
    expect((await sessionsOf(beta, token)).status).toBe(200);
    expect((await spawnOn(beta, token)).json).toMatchObject({ error: 'read_only' });
    expect((await spawnOn(gamma, peer(beta, 'gamma').token!)).status).toBe(201);
  }, 60_000);

  it("gives the other side serve's --advertise-url, and shows it with the code", async () => {
    const port = await freePort();
    const advertised = `http://localhost:${port}`;
    const delta = await startTestDaemon({
      serveArgs: ['--name', 'delta', '--port', String(port), '--advertise-url', advertised],
    });
    try {
      const running = startCli(delta.stateDir, ['peer', 'pair']);
      const code = await waitFor(() => /Pairing code: (\S+)/.exec(running.stdout())?.[1], 'the pairing code');
      expect(running.stdout()).toContain(`tower peer pair ${advertised}`);
      await runCliOk(alpha.stateDir, ['peer', 'pair', advertised, '--code', code]);
      expect((await running.done).code).toBe(0);
      await runCliOk(delta.stateDir, ['peer', 'rm', 'alpha']);
      await runCliOk(alpha.stateDir, ['peer', 'rm', 'delta']);
      // The other way round: delta types, and alpha stores the URL delta advertises, not where it listens.
      const shown = await offer(alpha);
      await runCliOk(delta.stateDir, ['peer', 'pair', alpha.httpUrl!, '--code', shown.code]);
      expect((await shown.running.done).code).toBe(0);
      expect(peer(alpha, 'delta').url).toBe(advertised);
      expect(delta.httpUrl).not.toBe(advertised);
    } finally {
      await delta.dispose();
    }
  }, 60_000);
});

describe('peer credentials', () => {
  it('a wrong credential is refused like any wrong token', async () => {
    const wrong = await apiJson(beta.httpUrl!, '/api/sessions', { token: 'f'.repeat(64) });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: 'unauthorized' });
  });

  it('a removed peer is refused at once', async () => {
    const token = peer(alpha, 'beta').token!;
    const betaToAlpha = peer(beta, 'alpha').token!;
    expect((await sessionsOf(beta, token)).status).toBe(200);
    const removed = await runCliOk(beta.stateDir, ['peer', 'rm', 'alpha']);
    expect(removed.stdout).toContain('removed peer alpha');
    expect((await sessionsOf(beta, token)).status).toBe(401);
    // The other direction is alpha's to revoke.
    expect((await sessionsOf(alpha, betaToAlpha)).status).toBe(200);
    const unknown = await runCli(beta.stateDir, ['peer', 'rm', 'alpha']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no peer named alpha');
  });

  it('peer add and grant for scripted setups: a printed token, its scope, replaced by a new grant', async () => {
    const added = await runCliOk(beta.stateDir, [
      'peer',
      'add',
      'delta',
      'http://127.0.0.1:9',
      '--grant',
      'view',
    ]);
    const viewToken = added.stdout.trim();
    expect(viewToken).toMatch(/^[0-9a-f]{64}$/);
    expect(added.stderr).toContain('tower peer add beta');
    expect((await sessionsOf(beta, viewToken)).status).toBe(200);
    expect((await spawnOn(beta, viewToken)).json).toMatchObject({ error: 'read_only' });
    const granted = await runCliOk(beta.stateDir, ['peer', 'grant', 'delta', '--scope', 'full']);
    const fullToken = granted.stdout.trim();
    expect((await spawnOn(beta, fullToken)).status).toBe(201);
    expect((await sessionsOf(beta, viewToken)).status).toBe(401);

    const bad = await runCli(beta.stateDir, [
      'peer',
      'add',
      'bad/name',
      'http://127.0.0.1:9',
      '--token',
      'x'.repeat(20),
    ]);
    expect(bad.code).toBe(2);
    const neither = await runCli(beta.stateDir, ['peer', 'add', 'epsilon', 'http://127.0.0.1:9']);
    expect(neither.code).toBe(2);
    const withToken = await runCliOk(beta.stateDir, [
      'peer',
      'add',
      'zeta',
      'http://127.0.0.1:9',
      '--token',
      'z'.repeat(32),
    ]);
    expect(withToken.stdout).toBe('');
    expect(peer(beta, 'zeta')).toMatchObject({ token: 'z'.repeat(32), granted: null, added_by: 'manual' });
  });
});

/** A man in the middle on the HTTP link: passes every request on, keeps what it saw, may change replies. */
async function relay(target: string, tamper?: (json: Record<string, unknown>) => void) {
  const seen: string[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    seen.push(body);
    const upstream = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: { 'content-type': 'application/json' },
      body: request.method === 'GET' ? undefined : body,
    });
    let text = await upstream.text();
    if (tamper && upstream.ok) {
      const json = JSON.parse(text) as Record<string, unknown>;
      tamper(json);
      text = JSON.stringify(json);
    }
    seen.push(text);
    response.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => server.close() };
}

describe('a man in the middle', () => {
  it('who swaps the identity in a reply fails the pairing; one who relays sees no code and no token', async () => {
    const shown = await offer(gamma);
    const swapping = await relay(gamma.httpUrl!, (json) => {
      if ('public_key' in json) json.public_key = loadIdentity(beta.stateDir).publicKeyRaw;
    });
    const refused = await runCli(alpha.stateDir, ['peer', 'pair', swapping.url, '--code', shown.code]);
    swapping.close();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('wrong pairing code');
    await waitFor(() => shown.running.stderr().includes('a wrong code was tried (1 of 3'), 'the report');
    expect(peersOf(gamma).some((record) => record.name === 'alpha')).toBe(false);

    const relaying = await relay(gamma.httpUrl!);
    await runCliOk(alpha.stateDir, ['peer', 'pair', relaying.url, '--code', shown.code]);
    relaying.close();
    expect((await shown.running.done).code).toBe(0);
    const wire = relaying.seen.join('\n');
    expect(wire).toContain('exchange');
    for (const secret of [
      shown.code,
      shown.code.replace('-', ''),
      peer(alpha, 'gamma').token!,
      peer(gamma, 'alpha').token!,
    ]) {
      expect(wire).not.toContain(secret);
    }
    expect((await sessionsOf(gamma, peer(alpha, 'gamma').token!)).status).toBe(200);
  }, 60_000);
});

// The raw API, for what the CLI never sends.
describe('pairing routes', () => {
  it('without an open offer the public route says so, and malformed messages are refused', async () => {
    const start = await apiJson(gamma.httpUrl!, '/api/pair/start', {
      method: 'POST',
      body: {
        version: 1,
        name: 'x',
        public_key: 'AA==',
        url: 'http://127.0.0.1:9',
        scope: 'full',
        message: 'AA==',
      },
    });
    expect(start.status).toBe(400);
    const foreign = await api(gamma.httpUrl!, '/api/pair/finish', {
      method: 'POST',
      origin: 'https://evil.example',
      body: {},
    });
    expect(foreign.status).toBe(403);
  });
});
