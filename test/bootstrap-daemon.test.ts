/**
 * Bootstrap through the real daemon, on an echo substrate declared with `"box": true` (this machine,
 * with the daemon's HOME, stands in for the box): the socket request streams its phases and a second
 * caller joins the run under way; the control plane resolves the runtimes to check; the CLI prints a
 * line per phase and fails when a core phase did; the API streams the phases over SSE.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootstrapProgress } from '../dist/cli/bootstrap.js';
import type { TowerClient } from '../dist/client/client.js';
import type { BootstrapEvent } from '../dist/protocol/index.js';
import { describeResult, runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { apiJson, SseReader } from './support/http.js';
import { writeSubstrates } from './support/substrates.js';

const PHASES = ['check', 'packages', 'node', 'tower', 'agent', 'config'];
const home = mkdtempSync(join(tmpdir(), 'tower-bootstrap-home-'));
let daemon: TestDaemon;
let client: TowerClient;
let token: string;

beforeAll(async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-bootstrap-daemon-'));
  writeSubstrates(stateDir, [
    { name: 'eb', type: 'echo', box: true },
    { name: 'strict', type: 'echo', box: true, session_host: 'tower' },
    { name: 'plain', type: 'echo' },
  ]);
  const faux = {
    command: 'tower-test-no-faux',
    install: 'apt-get install faux',
    credentials: { any_of: [{ env: 'FAUX_KEY' }, { file: '~/.faux' }], fix: 'set FAUX_KEY' },
  };
  writeFileSync(join(stateDir, 'runtimes.json'), JSON.stringify({ runtimes: { faux } }));
  daemon = await startTestDaemon({ stateDir, env: { HOME: home } });
  client = await daemon.connect();
  token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
  rmSync(home, { recursive: true, force: true });
});

const phaseStates = (events: BootstrapEvent[]) =>
  events.flatMap((event) => (event.type === 'phase' ? [`${event.name}:${event.state}`] : []));

describe('bootstrap_substrate over the socket', () => {
  it('streams each phase, resolves the runtimes, and a second caller joins the run', async () => {
    const first: BootstrapEvent[] = [];
    const second: BootstrapEvent[] = [];
    let checked!: () => void;
    const checkDone = new Promise<void>((resolve) => (checked = resolve));
    const running = client.bootstrapSubstrate('eb', { runtimes: ['faux'] }, (event) => {
      first.push(event);
      if (event.type === 'phase' && event.name === 'check' && event.state === 'done') checked();
    });
    await checkDone;
    const other = await daemon.connect();
    const joined = await other.bootstrapSubstrate('eb', {}, (event) => second.push(event));
    other.end();
    const result = await running;
    expect(result.joined).toBe(false);
    expect(joined.joined).toBe(true);
    expect(phaseStates(first)).toEqual(
      PHASES.flatMap((name) => [`${name}:running`, `${name}:done`]).map((step) =>
        step === 'agent:done' ? 'agent:failed' : step,
      ),
    );
    expect(phaseStates(second)).toEqual(phaseStates(first));
    expect(joined.state).toEqual(result.state);
    expect(result.state).toMatchObject({ outcome: 'warnings', session_host: 'tower' });
    expect(result.state.warnings).toEqual([
      expect.stringMatching(/^faux: no credential on the box \(none of \$FAUX_KEY, ~\/\.faux\)/),
      'agent: faux: tower-test-no-faux not found on the box; install it: apt-get install faux',
    ]);
    expect(
      first.some(
        (event) =>
          event.type === 'output' && event.phase === 'agent' && event.line === 'missing tower-test-no-faux',
      ),
    ).toBe(true);
    expect(await client.bootstrapState('eb')).toEqual(result.state);
  }, 60_000);

  it('a substrate without a box cannot be bootstrapped; an unknown one is named', async () => {
    await expect(client.bootstrapSubstrate('plain', {})).rejects.toMatchObject({
      code: 'not_supported',
      message: 'plain is a echo substrate: it has no box to bootstrap',
    });
    await expect(client.bootstrapState('nowhere')).rejects.toMatchObject({ code: 'unknown_substrate' });
    expect((await client.bootstrapState('strict')).outcome).toBe('never');
  });
});

describe('tower substrates bootstrap', () => {
  it('prints a line per phase; a rerun skips what is done; `tower substrates` shows it', async () => {
    const rerun = await runCli(daemon.stateDir, ['substrates', 'bootstrap', 'eb']);
    expect(rerun.code, describeResult(rerun)).toBe(0);
    const lines = rerun.stdout.split('\n');
    expect(lines[0]).toMatch(/^ {2}✓ check {13}Linux \S+, uid \d+, .* free, .*\(done before\)$/);
    expect(lines[3]).toMatch(/^ {2}✓ tower {13}Tower \S+ \(\S+\) uploaded .* \(done before\)$/);
    expect(lines[4]).toMatch(/^ {2}– agent +\d+\.\d s {2}no runtime asked for \(--runtime NAME\)$/);
    expect(rerun.stdout).toMatch(/\neb: ready \(with warnings\); sessions kept by tower\n$/);
    const listed = await runCli(daemon.stateDir, ['substrates']);
    expect(listed.stdout).toMatch(/^SUBSTRATE +TYPE +STATE +BOOTSTRAP +ISOLATED/);
    expect(listed.stdout).toMatch(/\neb +echo +ready +bootstrapped \(with warnings\) +no/);
    expect(listed.stdout).toMatch(/\nplain +echo +ready +- +no/);
    expect(listed.stdout).toMatch(/\nstrict +echo +ready +not bootstrapped +no/);
  }, 30_000);

  it('--force --verbose runs every phase again and shows its output', async () => {
    const forced = await runCli(daemon.stateDir, ['substrates', 'bootstrap', 'eb', '--force', '--verbose']);
    expect(forced.code, describeResult(forced)).toBe(0);
    expect(forced.stdout).toContain('  … check\n      os=Linux\n');
    expect(forced.stdout).toMatch(/\n {2}✓ tower +\d+\.\d s {2}Tower \S+ \(\S+\) already there\n/);
    expect(forced.stdout).toMatch(/\neb: ready; sessions kept by tower\n$/);
  }, 30_000);

  it('exits non-zero when a core phase fails, saying why', async () => {
    const fakeNode = join(home, '.tower', 'node', 'bin');
    mkdirSync(fakeNode, { recursive: true });
    writeFileSync(join(fakeNode, 'node'), '#!/bin/sh\necho "node $0 22.1.0 127"\n');
    chmodSync(join(fakeNode, 'node'), 0o755);
    try {
      const failed = await runCli(daemon.stateDir, ['substrates', 'bootstrap', 'strict']);
      expect(failed.code, describeResult(failed)).toBe(1);
      expect(failed.stdout).toMatch(
        /\n {2}– packages +\d+\.\d s {2}not needed: sessions run under Tower's session host\n/,
      );
      expect(failed.stdout).toMatch(
        /\n {2}✗ tower +\d+\.\d s {2}this Tower's compiled modules are for .* Node ABI 127 .*\n/,
      );
      expect(failed.stdout).not.toContain('agent');
      expect(failed.stdout).toMatch(/\nstrict: failed at tower: this Tower's compiled modules/);
      const listed = await runCli(daemon.stateDir, ['substrates']);
      expect(listed.stdout).toMatch(/\nstrict +echo +ready +bootstrap failed at tower +no/);
    } finally {
      rmSync(join(home, '.tower', 'node'), { recursive: true, force: true });
    }
  }, 30_000);

  it('escapes what the box printed', () => {
    let printed = '';
    const progress = new BootstrapProgress((text) => (printed += text), { tty: false, verbose: false });
    progress.event({ type: 'phase', name: 'node', kind: 'core', state: 'running' });
    progress.event({ type: 'output', phase: 'node', line: 'evil \x1b]0;pwned\x07 \x9b2J' });
    progress.event({
      type: 'phase',
      name: 'node',
      kind: 'core',
      state: 'failed',
      message: 'no \x1b[2J',
      elapsed_ms: 1234,
    });
    expect(printed).toBe('  ✗ node       1.2 s  no \\x1b[2J\n      | evil \\x1b]0;pwned\\x07 \\x9b2J\n');
  });
});

describe('the API', () => {
  it('POST …/bootstrap streams the phases over SSE; GET reads the state', async () => {
    const stream = await SseReader.open(daemon.httpUrl!, '/api/substrates/eb/bootstrap', {
      method: 'POST',
      token,
      body: { force: true },
    });
    const result = await stream.next((event) => event.event === 'result', 'the result', 30_000);
    await stream.waitEnded();
    const phases = stream.events
      .filter((event) => event.event === 'phase')
      .map((event) => `${event.data.name}:${event.data.state}`);
    expect(phases).toEqual(
      PHASES.flatMap((name) => [`${name}:running`, name === 'agent' ? `${name}:skipped` : `${name}:done`]),
    );
    expect(
      stream.events.some(
        (event) => event.event === 'output' && event.data.phase === 'check' && event.data.line === 'os=Linux',
      ),
    ).toBe(true);
    expect(result.data).toMatchObject({
      type: 'result',
      joined: false,
      state: { substrate: 'eb', outcome: 'ready' },
    });
    const state = await apiJson(daemon.httpUrl!, '/api/substrates/eb/bootstrap', { token });
    expect(state).toMatchObject({ status: 200, json: { state: result.data.state } });
  }, 30_000);

  it('answers 404 for an unknown substrate and 409 for one without a box', async () => {
    const post = { method: 'POST', token, body: {} };
    expect(await apiJson(daemon.httpUrl!, '/api/substrates/nowhere/bootstrap', post)).toMatchObject({
      status: 404,
      json: { error: 'unknown_substrate' },
    });
    expect(await apiJson(daemon.httpUrl!, '/api/substrates/plain/bootstrap', post)).toMatchObject({
      status: 409,
      json: { error: 'not_supported' },
    });
    expect(await apiJson(daemon.httpUrl!, '/api/substrates/nowhere/bootstrap', { token })).toMatchObject({
      status: 404,
    });
  });
});
