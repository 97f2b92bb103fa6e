/**
 * The credential gate: before an agent is spawned, is it installed and does it have a model upstream,
 * there where it will run? The substrate answers (its probe): the program on its PATH, the variables
 * that reach it, the files it sees. Only the names of variables and files are ever reported, never
 * their values.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import type { RuntimeInfo } from '../protocol/index.js';
import { LOCAL_SUBSTRATE, TowerError } from '../protocol/index.js';
import type { Placement, Substrate } from '../substrates/types.js';
import type { AgentRuntime } from './spec.js';

export interface GateResult {
  installed: boolean;
  path: string | null;
  ready: boolean;
  missing: string[];
  fix: string | null;
  /** What gives it an upstream, when it has one (a variable's or file's name). */
  upstream: string | null;
}

export async function checkRuntime(
  runtime: AgentRuntime,
  substrate: Substrate,
  placement: Placement,
): Promise<GateResult> {
  const { spec } = runtime;
  const sources = spec.credentials?.any_of ?? [];
  const found = await substrate.probe({
    ...placement,
    programs: [spec.command],
    variables: sources.flatMap((source) => ('env' in source ? [source.env] : [])),
    files: sources.flatMap((source) => ('file' in source ? [source.file] : [])),
  });
  const path = found.programs[spec.command] ?? null;
  if (path === null) {
    const hint = spec.install ? `install it: ${spec.install}` : `put ${spec.command} on PATH`;
    return {
      installed: false,
      path: null,
      ready: false,
      missing: [`${spec.command} not found in PATH`],
      fix: hint,
      upstream: null,
    };
  }
  if (!spec.credentials)
    return { installed: true, path, ready: true, missing: [], fix: null, upstream: null };
  for (const source of spec.credentials.any_of) {
    if ('env' in source && found.variables[source.env]) return ready(path, `$${source.env}`);
    if ('file' in source && found.files[source.file]) return ready(path, source.file);
  }
  // What the data form cannot express reads the daemon's own files: it counts only where the session sees them.
  const extra = substrate.capabilities.isolated ? null : runtime.extraUpstream?.(placement.env, found.home);
  if (extra) return ready(path, extra);
  const names = spec.credentials.any_of.map((source) => ('env' in source ? `$${source.env}` : source.file));
  return {
    installed: true,
    path,
    ready: false,
    missing: [`no model upstream: none of ${names.join(', ')}`],
    fix: spec.credentials.fix,
    upstream: null,
  };
}

/**
 * Throws a runtime_blocked error saying what is missing, where the gate looked (the daemon's
 * environment and the names of the variables given with the spawn, never their values; and on which
 * substrate, when not local), and how to fix it.
 */
export async function requireReady(
  runtime: AgentRuntime,
  substrate: Substrate,
  placement: Placement,
  givenNames: string[] = [],
): Promise<GateResult> {
  const result = await checkRuntime(runtime, substrate, placement);
  if (result.ready) return result;
  const given = givenNames.length > 0 ? givenNames.join(', ') : 'none';
  const where = substrate.name === LOCAL_SUBSTRATE ? '' : ` on substrate ${substrate.name}`;
  // On another machine the daemon's environment does not count: it never crosses.
  const environment = substrate.remote ? "the box's own environment" : "the daemon's environment";
  const looked = result.installed
    ? ` (looked${where} in ${environment} and in the variables given with the spawn: ${given};` +
      ' tower spawn --env NAME passes yours)'
    : '';
  throw new TowerError(
    'runtime_blocked',
    `cannot start ${runtime.name}${where}: ${result.missing.join('; ')}${looked}. Fix: ${result.fix}`,
  );
}

function ready(path: string, upstream: string): GateResult {
  return { installed: true, path, ready: true, missing: [], fix: null, upstream };
}

const versions = new Map<string, { stamp: number; version: Promise<string | null> }>();

/** `<command> --version`, first line, cached until the executable changes. */
export function probeVersion(path: string, env: Record<string, string>): Promise<string | null> {
  let stamp = 0;
  try {
    stamp = statSync(path).mtimeMs;
  } catch {
    return Promise.resolve(null);
  }
  const cached = versions.get(path);
  if (cached && cached.stamp === stamp) return cached.version;
  const version = new Promise<string | null>((resolve) => {
    execFile(path, ['--version'], { env, timeout: 10_000, maxBuffer: 64 * 1024 }, (error, stdout) => {
      const line = String(stdout).trim().split('\n')[0]?.trim();
      resolve(error || !line ? null : line.slice(0, 120));
    });
  });
  versions.set(path, { stamp, version });
  return version;
}

export async function describeRuntime(
  runtime: AgentRuntime,
  substrate: Substrate,
  placement: Placement,
): Promise<RuntimeInfo> {
  const gate = await checkRuntime(runtime, substrate, placement);
  const version = gate.path && runtime.name !== 'shell' ? await probeVersion(gate.path, placement.env) : null;
  return {
    name: runtime.name,
    description: runtime.spec.description,
    command: runtime.spec.command,
    custom: runtime.custom,
    installed: gate.installed,
    path: gate.path,
    version,
    ready: gate.ready,
    missing: gate.missing,
    fix: gate.fix,
    status_channel: runtime.statusChannel,
    can_resume: runtime.spec.resume_args !== undefined,
    answers: runtime.spec.answers ?? null,
  };
}
