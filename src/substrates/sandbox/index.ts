/**
 * `sandbox`: the daemon's host seen through bubblewrap (bwrap). Each session, command and probe runs in
 * a sandbox of its own (see bwrap.ts for what it sees); nothing outlives it, so there is nothing to
 * provision, wake, sleep or destroy. Declared in substrates.json: {"name":"box","type":"sandbox","network":false}.
 */
import { TowerError } from '../../protocol/index.js';
import { collect, streamChild } from '../child.js';
import { resolveCommand } from '../command.js';
import type { Substrate, SubstrateContext, SubstrateStatus } from '../types.js';
import { ISOLATION, type Sandbox, type SandboxSettings } from './bwrap.js';
import { streamSandbox } from './exec.js';
import { probeSandbox } from './probe.js';
import { openSandboxPty } from './pty.js';

const INSTALL = 'install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap)';
/** A sandbox that could not start is tried again at most this often. */
const RECHECK_MS = 5000;

export function sandboxSubstrate(settings: SandboxSettings, context: SubstrateContext): Substrate {
  const readiness = checker(settings);
  const sandbox: Sandbox = { settings, context, bwrap: readiness.require };
  return {
    name: settings.name,
    type: 'sandbox',
    capabilities: {
      exec: true,
      stream_exec: true,
      reattach: false,
      lifecycle: false,
      isolated: true,
      network: settings.network,
    },
    detail: [
      `bubblewrap, network ${settings.network ? 'on' : 'off'}`,
      ...settings.expose.map((path) => `shows ${path}`),
    ].join(', '),
    state: readiness.status,
    openPty: (spec) => openSandboxPty(sandbox, spec),
    exec: (command) => collect(streamSandbox(sandbox, command), command),
    streamExec: (command) => streamSandbox(sandbox, command),
    probe: (query) => probeSandbox(sandbox, query),
    reattach: () => {
      throw new TowerError(
        'not_supported',
        'a sandboxed session ends with the daemon: it cannot be reattached',
      );
    },
  };
}

/** Whether bwrap is installed and may make namespaces here: checked once, a failure again after a while. */
function checker(settings: SandboxSettings) {
  let known: { status: SubstrateStatus; bwrap: string | null; at: number } | null = null;
  let checking: Promise<void> | null = null;
  const check = async () => {
    const status = await tryBwrap(settings);
    known = { ...status, at: Date.now() };
  };
  const status = async (): Promise<SubstrateStatus> => {
    if (!known || (known.status.state === 'error' && Date.now() - known.at > RECHECK_MS)) {
      checking ??= check().finally(() => {
        checking = null;
      });
      await checking;
    }
    return known!.status;
  };
  const require = async (): Promise<string> => {
    const current = await status();
    if (known?.bwrap && current.state === 'ready') return known.bwrap;
    throw new TowerError(
      'substrate_unavailable',
      `substrate ${settings.name} cannot start sessions: ${current.reason ?? current.state}`,
    );
  };
  return { status, require };
}

async function tryBwrap(
  settings: SandboxSettings,
): Promise<{ status: SubstrateStatus; bwrap: string | null }> {
  let bwrap: string;
  try {
    bwrap = resolveCommand('bwrap', '/', `${process.env.PATH ?? ''}:/usr/bin:/bin`);
  } catch {
    return { status: { state: 'error', reason: `bwrap is not installed: ${INSTALL}` }, bwrap: null };
  }
  const argv = [
    bwrap,
    '--unshare-pid',
    ...(settings.network ? [] : ['--unshare-net']),
    ...ISOLATION,
    '--',
    'true',
  ];
  try {
    const result = await collect(
      streamChild({ argv, cwd: '/', env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10_000 }),
      {
        argv,
        maxOutputBytes: 4096,
      },
    );
    if (result.exit_code === 0) return { status: { state: 'ready', reason: null }, bwrap };
    const said = result.stderr.toString('utf8').trim().split('\n')[0] || `exit code ${result.exit_code}`;
    return { status: { state: 'error', reason: `bwrap cannot make a sandbox here: ${said}` }, bwrap };
  } catch (error) {
    return { status: { state: 'error', reason: `bwrap did not run: ${(error as Error).message}` }, bwrap };
  }
}
