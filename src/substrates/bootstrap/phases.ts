/**
 * The phases that prepare a box, in order: check, packages (tmux), node, tower (Tower's session host,
 * uploaded from this install), agent (the runtime CLIs asked for), config. Which of them must succeed
 * depends on what is to keep sessions on the box: under `tower` Node and Tower's host are core, under
 * `tmux` tmux is, and under `auto` each is best-effort and one of the two must be there in the end.
 */
import { createReadStream } from 'node:fs';
import { machine, type as osType } from 'node:os';
import type {
  BootstrapEvent,
  BootstrapPhase,
  BootstrapState,
  RuntimeNeed,
  SessionHostChoice,
} from '../../protocol/index.js';
import { TowerError } from '../../protocol/index.js';
import { TOWER_VERSION } from '../../state/version.js';
import { probeBox } from '../box/probe.js';
import { quoteWord } from '../box/quote.js';
import type { Box } from '../box/types.js';
import { NO_ACCESS } from '../types.js';
import type { Bundle } from './bundle.js';
import type { ShellOptions, ShellResult } from './shell.js';

export interface PhaseContext {
  readonly box: Box;
  /** What the phases found, persisted with the state (later phases and later runs read it). */
  readonly facts: Record<string, string>;
  readonly needs: RuntimeNeed[];
  readonly workdir: string | undefined;
  /** Added to every program's environment on the box. */
  readonly env: Record<string, string>;
  /** A script on the box, its output logged there and streamed; throws on a non-zero exit. */
  sh(script: string, options?: ShellOptions): Promise<ShellResult>;
  emit(event: BootstrapEvent): void;
  /** Something the user should fix, that does not fail the phase (a missing credential). */
  warn(message: string): void;
  bundle(): Promise<Bundle>;
}

/** A phase answers what it found or did, or why it was not needed; it throws when it failed. */
export type PhaseResult = string | { skipped: string };

export interface Phase {
  name: string;
  kind: BootstrapPhase['kind'];
  run(ctx: PhaseContext): Promise<PhaseResult>;
}

export interface BootstrapPlan {
  phases: Phase[];
  /** Why the run failed although no core phase did (no session host at all), or null. */
  settle(state: BootstrapState): string | null;
}

const MIN_FREE_KIB = 100 * 1024;
const MIN_NODE_MAJOR = 20;

export function bootstrapPlan(choice: SessionHostChoice): BootstrapPlan {
  const coreIf = (core: boolean): Phase['kind'] => (core ? 'core' : 'best-effort');
  return {
    phases: [
      { name: 'check', kind: 'core', run: check },
      { name: 'packages', kind: coreIf(choice === 'tmux'), run: (ctx) => packages(ctx, choice) },
      { name: 'node', kind: coreIf(choice === 'tower'), run: (ctx) => node(ctx, choice) },
      { name: 'tower', kind: coreIf(choice === 'tower'), run: (ctx) => tower(ctx, choice) },
      { name: 'agent', kind: 'best-effort', run: agent },
      { name: 'config', kind: 'best-effort', run: config },
    ],
    settle: (state) =>
      state.session_host === null
        ? "nothing can keep sessions on the box: Tower's session host is not there (node, tower) and tmux is missing (packages)"
        : null,
  };
}

async function check(ctx: PhaseContext): Promise<PhaseResult> {
  await ctx.box.whenUp(30_000);
  const { output } = await ctx.sh(
    [
      'echo "os=$(uname -s)"',
      'echo "arch=$(uname -m)"',
      'echo "uid=$(id -u)"',
      'echo "home=$HOME"',
      `echo "free_kib=$(df -Pk "$HOME" 2>/dev/null | awk 'NR==2 {print $4}')"`,
      'for pm in apt-get apk dnf yum; do command -v $pm >/dev/null 2>&1 && { echo "package_manager=$pm"; break; }; done',
      // A box with none of them must not fail the check: the loop's last test would be its status.
      'true',
    ].join('\n'),
  );
  for (const line of output.split('\n')) {
    const match = /^(os|arch|uid|home|free_kib|package_manager)=(.+)$/.exec(line);
    if (match) ctx.facts[match[1]!] = match[2]!;
  }
  const free = Number(ctx.facts.free_kib);
  if (Number.isFinite(free) && free < MIN_FREE_KIB)
    throw new TowerError('substrate_unavailable', `only ${mib(free * 1024)} free in ${ctx.facts.home}`);
  const about = [
    `${ctx.facts.os ?? '?'} ${ctx.facts.arch ?? '?'}`,
    `uid ${ctx.facts.uid ?? '?'}`,
    Number.isFinite(free) ? `${mib(free * 1024)} free` : 'free space unknown',
    ctx.facts.package_manager ?? 'no package manager',
  ];
  return [...about, ...(await credentialGate(ctx))].join(', ');
}

/** The runtimes' credential gate, asked on the box before anything is installed: names, never values. */
async function credentialGate(ctx: PhaseContext): Promise<string[]> {
  if (ctx.needs.length === 0) return [];
  const found = await probeBox(ctx.box, {
    cwd: ctx.facts.home ?? '/',
    env: ctx.env,
    access: { ...NO_ACCESS, givenEnv: Object.keys(ctx.env) },
    programs: [],
    variables: ctx.needs.flatMap((need) => need.env),
    files: ctx.needs.flatMap((need) => need.files),
  });
  const said: string[] = [];
  for (const need of ctx.needs) {
    const sources = [...need.env.map((name) => `$${name}`), ...need.files];
    const has =
      sources.length === 0 ||
      need.env.some((name) => found.variables[name]) ||
      need.files.some((file) => found.files[file]);
    if (has) {
      said.push(`${need.name}: credentials found`);
      continue;
    }
    const missing = `${need.name}: no credential on the box (none of ${sources.join(', ')}); Tower installs none: put one there, or pass a variable with tower spawn --env NAME`;
    ctx.warn(missing);
    said.push(`${need.name}: no credential`);
  }
  await ctx.sh(`printf '%s\\n' ${said.map(quoteWord).join(' ')}`);
  return said;
}

async function packages(ctx: PhaseContext, choice: SessionHostChoice): Promise<PhaseResult> {
  if (choice === 'tower') return { skipped: "not needed: sessions run under Tower's session host" };
  const present = await ctx.sh('command -v tmux && tmux -V', { allowFailure: true });
  if (present.code === 0) return tmuxFound(ctx, present.output, 'there');
  const manager = ctx.facts.package_manager;
  const install = manager ? INSTALL[manager] : undefined;
  if (!install)
    throw new TowerError('substrate_unavailable', 'tmux is missing and no known package manager is');
  if (ctx.facts.uid !== '0')
    throw new TowerError(
      'substrate_unavailable',
      `tmux is missing; as root: ${install} (Tower installs only as root)`,
    );
  await ctx.sh(install, { timeoutMs: 10 * 60_000 });
  return tmuxFound(ctx, (await ctx.sh('command -v tmux && tmux -V')).output, 'installed');
}

const INSTALL: Record<string, string> = {
  'apt-get':
    'DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tmux',
  apk: 'apk add --no-cache tmux',
  dnf: 'dnf install -y tmux',
  yum: 'yum install -y tmux',
};

function tmuxFound(ctx: PhaseContext, output: string, how: string): string {
  const [path, version] = output.trim().split('\n');
  ctx.facts.tmux = path ?? 'tmux';
  return `${version ?? 'tmux'} ${how}`;
}

async function node(ctx: PhaseContext, choice: SessionHostChoice): Promise<PhaseResult> {
  if (choice === 'tmux') return { skipped: 'not needed: sessions run under tmux' };
  const { output } = await ctx.sh(
    [
      'for n in "$HOME/.tower/node/bin/node" "$(command -v node 2>/dev/null)"; do',
      '  [ -n "$n" ] && [ -x "$n" ] || continue',
      `  "$n" -e 'console.log(["node", process.execPath, process.versions.node, process.versions.modules].join(" "))' || true`,
      'done',
    ].join('\n'),
  );
  const found = output
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[0] === 'node' && fields.length === 4);
  const usable = found.find(([, , version]) => Number(version!.split('.')[0]) >= MIN_NODE_MAJOR);
  if (!usable) {
    const seen = found.map(([, path, version]) => `${path} is ${version}`).join('; ');
    throw new TowerError(
      'substrate_unavailable',
      `no Node ≥ ${MIN_NODE_MAJOR} on PATH or in ~/.tower/node${seen ? ` (${seen})` : ''}: install Node ${MIN_NODE_MAJOR}+ there` +
        (choice === 'auto' ? ' (until then: tmux)' : ''),
    );
  }
  const [, path, version, modules] = usable as [string, string, string, string];
  Object.assign(ctx.facts, { node: path, node_version: version, node_modules: modules });
  return `Node ${version} at ${path}`;
}

async function tower(ctx: PhaseContext, choice: SessionHostChoice): Promise<PhaseResult> {
  if (choice === 'tmux') return { skipped: 'not needed: sessions run under tmux' };
  const { node: nodePath } = ctx.facts;
  if (!nodePath) {
    if (choice === 'auto') return { skipped: 'no Node to run it (see node): tmux keeps sessions instead' };
    throw new TowerError('substrate_unavailable', 'no Node to run it (see node)');
  }
  const here = `${osType()} ${machine()}, Node ABI ${process.versions.modules}`;
  const there = `${ctx.facts.os} ${ctx.facts.arch}, Node ABI ${ctx.facts.node_modules}`;
  if (here !== there)
    throw new TowerError(
      'substrate_unavailable',
      `this Tower's compiled modules are for ${here}; the box is ${there} (Node ${ctx.facts.node_version})` +
        (choice === 'auto'
          ? ': tmux keeps its sessions instead'
          : ': set session_host to tmux, or use a matching Node'),
    );
  const bundle = await ctx.bundle();
  const dir = `"$HOME/.tower/runtime/${bundle.id}"`;
  const present = await ctx.sh(`test -f ${dir}/package.json && echo present`, { allowFailure: true });
  let how = 'already there';
  if (!present.output.includes('present')) {
    const started = Date.now();
    await ctx.sh(
      `d=${dir}; t="$d.partial.$$"; rm -rf "$d".partial.*; mkdir -p "$t" && tar -xzf - -C "$t" && mv "$t" "$d" && echo "unpacked in $d"`,
      { input: createReadStream(bundle.path), timeoutMs: 10 * 60_000 },
    );
    how = `uploaded ${mib(bundle.bytes)} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  }
  const node = quoteWord(nodePath);
  const { output } = await ctx.sh(
    [
      `cd ${dir} || exit 1`,
      `${node} bin/tower.js --version`,
      `${node} -e "require('@lydell/node-pty'); new (require('better-sqlite3'))(':memory:').close()"`,
      'echo "tower=$PWD/bin/tower.js"',
    ].join(' && '),
  );
  const version = output.split('\n')[0]?.trim();
  if (version !== TOWER_VERSION)
    throw new TowerError(
      'substrate_unavailable',
      `tower --version on the box says ${version}, not ${TOWER_VERSION}`,
    );
  ctx.facts.tower = /^tower=(.+)$/m.exec(output)?.[1] ?? '';
  ctx.facts.tower_bundle = bundle.id;
  return `Tower ${TOWER_VERSION} (${bundle.id}) ${how}`;
}

async function agent(ctx: PhaseContext): Promise<PhaseResult> {
  if (ctx.needs.length === 0) return { skipped: 'no runtime asked for (--runtime NAME)' };
  // npm puts global CLIs beside the node that installed them, and their own installers in ~/.local/bin.
  const extra = [
    '"$HOME/.local/bin"',
    ...(ctx.facts.node ? [quoteWord(ctx.facts.node.replace(/\/[^/]+$/, ''))] : []),
  ];
  const { output } = await ctx.sh(
    [
      `PATH="$PATH:${extra.join(':')}"`,
      `for c in ${ctx.needs.map((need) => quoteWord(need.command)).join(' ')}; do`,
      '  if p=$(command -v -- "$c"); then echo "found $c $p"; else echo "missing $c"; fi',
      'done',
    ].join('\n'),
  );
  const found = new Map<string, string>();
  for (const match of output.matchAll(/^found (\S+) (.+)$/gm)) found.set(match[1]!, match[2]!);
  const missing = ctx.needs.filter((need) => !found.has(need.command));
  if (missing.length > 0) {
    const how = (need: RuntimeNeed) => (need.install ? `; install it: ${need.install}` : '');
    throw new TowerError(
      'substrate_unavailable',
      missing.map((need) => `${need.name}: ${need.command} not found on the box${how(need)}`).join('; '),
    );
  }
  return ctx.needs.map((need) => `${need.name} at ${found.get(need.command)}`).join(', ');
}

async function config(ctx: PhaseContext): Promise<PhaseResult> {
  const dir = ctx.workdir ? quoteWord(ctx.workdir) : '"$HOME"';
  await ctx.sh(`mkdir -p ${dir} && test -w ${dir} && echo "workspace $(cd ${dir} && pwd)"`);
  return `workspace ${ctx.workdir ?? ctx.facts.home ?? '~'} writable`;
}

function mib(bytes: number): string {
  return bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
