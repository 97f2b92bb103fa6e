/**
 * Bootstrap's phases on a LocalBox (this machine, a HOME of the test's own): the real phases run in
 * order, log on the box and upload this very install, whose `tower --version` then runs from there; the
 * state is persisted after each phase, so a run killed mid-phase resumes at that phase; a best-effort
 * failure does not block and a core one stops; --force runs everything again; output is bounded.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { BootstrapEvent } from '../dist/protocol/index.js';
import { TOWER_VERSION } from '../dist/state/version.js';
import type { BootstrapPlan, Phase } from '../dist/substrates/bootstrap/phases.js';
import { runBootstrap } from '../dist/substrates/bootstrap/runner.js';
import { bootstrapStatePath, readBootstrapState, towerOnBox } from '../dist/substrates/bootstrap/state.js';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import { ROOT, waitFor } from './support/daemon.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-bootstrap-'));
const box = new LocalBox('devbox');
let home: string;
let stateDir: string;
let events: BootstrapEvent[];

beforeEach(() => {
  home = mkdtempSync(join(scratch, 'home-'));
  stateDir = mkdtempSync(join(scratch, 'state-'));
  events = [];
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const target = (sessionHost: 'auto' | 'tower' | 'tmux' = 'auto') => ({ name: 'devbox', box, sessionHost });
const run = (
  options: { plan?: BootstrapPlan; force?: boolean; sessionHost?: 'auto' | 'tower' | 'tmux' } = {},
) =>
  runBootstrap(target(options.sessionHost), {
    stateDir,
    env: { HOME: home },
    plan: options.plan,
    force: options.force,
    needs: [{ name: 'faux', command: 'sh', install: null, env: ['FAUX_KEY'], files: ['~/.faux'] }],
    onEvent: (event) => events.push(event),
  });
const phaseEvents = () =>
  events.flatMap((event) => (event.type === 'phase' ? [`${event.name}:${event.state}`] : []));
const plan = (...phases: Phase[]): BootstrapPlan => ({ phases, settle: () => null });
const logOf = (phase: string) => readFileSync(join(home, '.tower', 'bootstrap', `${phase}.log`), 'utf8');

describe('the phases on a box', () => {
  it('run in order, log on the box, upload Tower, and a rerun skips them all', async () => {
    const state = await run();
    expect(phaseEvents()).toEqual(
      ['check', 'packages', 'node', 'tower', 'agent', 'config'].flatMap((name) => [
        `${name}:running`,
        `${name}:done`,
      ]),
    );
    expect(state).toMatchObject({
      outcome: 'warnings',
      session_host: 'tower',
      summary: 'ready (with warnings)',
    });
    expect(state.warnings).toEqual([
      expect.stringMatching(/^faux: no credential on the box \(none of \$FAUX_KEY, ~\/\.faux\)/),
    ]);
    expect(state.facts).toMatchObject({ os: 'Linux', home, node: process.execPath });
    // The bundle is there, and this install's CLI runs from it.
    const towerJs = state.facts.tower!;
    expect(towerJs).toMatch(
      new RegExp(`^${home}/\\.tower/runtime/${TOWER_VERSION}-[0-9a-f]{12}/bin/tower\\.js$`),
    );
    expect(towerOnBox(stateDir, 'devbox')).toEqual([process.execPath, towerJs]);
    const version = spawn(process.execPath, [towerJs, '--version'], { cwd: '/' });
    let printed = '';
    version.stdout.on('data', (chunk: Buffer) => (printed += chunk));
    await new Promise((resolve) => version.once('close', resolve));
    expect(printed.trim()).toBe(TOWER_VERSION);
    expect(towerJs.startsWith(ROOT)).toBe(false);
    // Logged on the box, in a directory only its user reads.
    expect(statSync(join(home, '.tower', 'bootstrap')).mode & 0o777).toBe(0o700);
    expect(logOf('check')).toMatch(/^== \S+ check\nos=Linux\narch=\S+\nuid=\d+\nhome=/);
    expect(logOf('tower')).toContain(`unpacked in ${home}/.tower/runtime/`);
    expect(statSync(bootstrapStatePath(stateDir, 'devbox')).mode & 0o777).toBe(0o600);
    expect(readBootstrapState(stateDir, 'devbox')).toEqual(state);

    events = [];
    const again = await run();
    expect(phaseEvents()).toEqual(
      ['check', 'packages', 'node', 'tower', 'agent', 'config'].map((name) => `${name}:done`),
    );
    expect(events.find((event) => event.type === 'phase' && event.name === 'tower')).toMatchObject({
      message: expect.stringMatching(/uploaded .* \(done before\)$/),
    });
    expect(again.outcome).toBe('warnings');
    expect(logOf('check').match(/^== /gm)).toHaveLength(2);

    events = [];
    await run({ force: true });
    expect(phaseEvents()).toContain('check:running');
    expect(logOf('check').match(/^== /gm)).toHaveLength(4);
    expect(
      events.find((event) => event.type === 'phase' && event.name === 'tower' && event.state === 'done'),
    ).toMatchObject({
      message: expect.stringMatching(/already there$/),
    });
  }, 60_000);

  it("a Node whose modules differ fails the tower phase: tmux under auto, the run's end under tower", async () => {
    const fakeNode = join(home, '.tower', 'node', 'bin');
    mkdirSync(fakeNode, { recursive: true });
    writeFileSync(join(fakeNode, 'node'), '#!/bin/sh\necho "node $0 22.1.0 127"\n');
    chmodSync(join(fakeNode, 'node'), 0o755);
    const auto = await run();
    const tower = auto.phases.find((phase) => phase.name === 'tower')!;
    expect(tower).toMatchObject({ state: 'failed', kind: 'best-effort' });
    expect(tower.error).toMatch(
      /compiled modules are for Linux \S+, Node ABI \d+; the box is Linux \S+, Node ABI 127 \(Node 22\.1\.0\): tmux keeps/,
    );
    expect(auto).toMatchObject({ outcome: 'warnings', session_host: 'tmux' });

    rmSync(bootstrapStatePath(stateDir, 'devbox'));
    const strict = await run({ sessionHost: 'tower' });
    expect(strict.outcome).toBe('failed');
    expect(strict.summary).toMatch(/^failed at tower: this Tower's compiled modules/);
    expect(strict.phases.map((phase) => `${phase.name}:${phase.state}`)).toEqual([
      'check:done',
      'packages:skipped',
      'node:done',
      'tower:failed',
      'agent:pending',
      'config:pending',
    ]);
  }, 60_000);
});

describe('the runner', () => {
  const ok = (name: string, kind: Phase['kind'] = 'core'): Phase => ({
    name,
    kind,
    run: async (ctx) => {
      await ctx.sh(`echo ran ${name} >>"$HOME/ran"`);
      return `${name} ok`;
    },
  });
  const failing = (name: string, kind: Phase['kind']): Phase => ({
    name,
    kind,
    run: async (ctx) => {
      await ctx.sh('echo about to fail; echo it broke >&2; exit 3');
      return 'never';
    },
  });
  const ran = () => readFileSync(join(home, 'ran'), 'utf8').trim().split('\n');

  it('persists the state after each phase', async () => {
    const seen: string[][] = [];
    const look: Phase = {
      name: 'look',
      kind: 'core',
      run: async () => {
        seen.push(
          readBootstrapState(stateDir, 'devbox', true).phases.map((phase) => `${phase.name}:${phase.state}`),
        );
        return 'looked';
      },
    };
    await run({ plan: plan(ok('one'), look, ok('three')) });
    expect(seen).toEqual([['one:done', 'look:running', 'three:pending']]);
  });

  it('a best-effort failure is marked and the run goes on; a core one stops it', async () => {
    const warned = await run({ plan: plan(ok('one'), failing('two', 'best-effort'), ok('three')) });
    expect(warned).toMatchObject({
      outcome: 'warnings',
      summary: 'ready (with warnings)',
      warnings: ['two: it broke'],
    });
    expect(warned.phases[1]).toMatchObject({
      state: 'failed',
      error: 'it broke',
      output_tail: ['about to fail', 'it broke'],
    });
    expect(ran()).toEqual(['ran one', 'ran three']);

    rmSync(join(home, 'ran'));
    rmSync(bootstrapStatePath(stateDir, 'devbox'));
    const failed = await run({ plan: plan(ok('one'), failing('two', 'core'), ok('three')) });
    expect(failed).toMatchObject({ outcome: 'failed', summary: 'failed at two: it broke' });
    expect(failed.phases.map((phase) => phase.state)).toEqual(['done', 'failed', 'pending']);
    expect(ran()).toEqual(['ran one']);

    // A rerun skips what is done and resumes at what failed.
    events = [];
    const resumed = await run({ plan: plan(ok('one'), ok('two'), ok('three')) });
    expect(resumed.outcome).toBe('ready');
    expect(phaseEvents()).toEqual(['one:done', 'two:running', 'two:done', 'three:running', 'three:done']);
    expect(ran()).toEqual(['ran one', 'ran two', 'ran three']);
  });

  it('a run killed mid-phase is read as interrupted there, and a rerun resumes at that phase', async () => {
    const script = `
      import { LocalBox } from '${ROOT}/dist/substrates/box/local-box.js';
      import { runBootstrap } from '${ROOT}/dist/substrates/bootstrap/runner.js';
      const phase = (name, script) => ({ name, kind: 'core', run: async (ctx) => { await ctx.sh(script); return name; } });
      await runBootstrap({ name: 'devbox', box: new LocalBox(), sessionHost: 'auto' }, {
        stateDir: ${JSON.stringify(stateDir)},
        env: { HOME: ${JSON.stringify(home)} },
        plan: { settle: () => null, phases: [
          phase('one', 'echo ran one >>"$HOME/ran"'),
          phase('two', 'echo $$ >"$HOME/group"; sleep 30'),
        ] },
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    try {
      await waitFor(() => {
        const state = readBootstrapState(stateDir, 'devbox', true);
        try {
          return state.phases[1]?.state === 'running' && readFileSync(join(home, 'group'), 'utf8').trim();
        } catch {
          return false;
        }
      }, 'the second phase to be under way');
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      process.kill(-Number(readFileSync(join(home, 'group'), 'utf8')), 'SIGKILL');
    }
    const cut = readBootstrapState(stateDir, 'devbox');
    expect(cut).toMatchObject({ outcome: 'failed', summary: 'interrupted at two' });
    expect(cut.phases.map((phase) => phase.state)).toEqual(['done', 'failed']);

    const resumed = await run({ plan: plan(ok('one'), ok('two')) });
    expect(resumed.outcome).toBe('ready');
    expect(ran()).toEqual(['ran one', 'ran two']);
  }, 30_000);

  it('streams output bounded in length and rate; the log on the box keeps every line', async () => {
    const chatty: Phase = {
      name: 'chatty',
      kind: 'core',
      run: async (ctx) => {
        await ctx.sh(`i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; printf '%0600d\\n' 7`);
        return 'said a lot';
      },
    };
    const state = await run({ plan: plan(chatty) });
    const lines = events.flatMap((event) => (event.type === 'output' ? [event.line] : []));
    expect(lines.length).toBeLessThan(200);
    expect(lines[0]).toBe('line 0');
    expect(
      lines.some((line) =>
        /^… \d+ more lines \(all are in ~\/\.tower\/bootstrap\/chatty\.log on the box\)$/.test(line),
      ),
    ).toBe(true);
    expect(state.phases[0]!.output_tail).toHaveLength(20);
    expect(state.phases[0]!.output_tail.at(-1)).toBe(`${'0'.repeat(400)}…`);
    const log = logOf('chatty');
    expect(log.match(/^line \d+$/gm)).toHaveLength(2000);
    expect(log).toContain(`${'0'.repeat(599)}7`);
  });
});
