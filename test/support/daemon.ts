/** Starts the real daemon (bin/tower.js serve) in a fresh state dir and connects the real client. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TowerClient } from '../../dist/client/client.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const TOWER_BIN = join(ROOT, 'bin', 'tower.js');

export interface TestDaemon {
  stateDir: string;
  socketPath: string;
  /** `tower serve`: the control plane. */
  process: ChildProcess;
  /** The session host's pid (it holds the sessions), or null when none runs. */
  hostPid(): number | null;
  /** The web workspace's base URL (scheme://host:port, no token), or null with `--no-http`. */
  httpUrl: string | null;
  /** Everything the current daemon process printed (stdout and stderr) so far. */
  output(): string;
  connect(): Promise<TowerClient>;
  /** Graceful stop (SIGTERM) of the control plane and the session host (its sessions end); wait for both. */
  stop(): Promise<void>;
  /** kill -9 of both, wait for exit: the sessions die with the host. */
  crash(): Promise<void>;
  /** Start `tower serve` again on the same state dir (and the session host, when none runs). */
  restart(): Promise<void>;
  /** SIGTERM (or with `kill`, SIGKILL) to the control plane alone: the sessions stay with the host. */
  stopControlPlane(kill?: boolean): Promise<void>;
  /** Stop and remove the state dir. */
  dispose(): Promise<void>;
  rssBytes(): number;
}

const WEB_LINE = /Tower web workspace: (\S+)\/#token=\S+\n/;

/** Parallel daemons must never fight over the default web port: any free port unless a test picks one. */
function withFreePort(args: string[]): string[] {
  return args.includes('--port') || args.includes('--no-http') ? args : [...args, '--port', '0'];
}

/**
 * Sessions start the user's shell, which reads the machine's rc files: a test daemon gets an empty HOME
 * of its own (unless the test gives one), so no rc file on the machine (a pyenv rehash waiting on a stale
 * lock, say) can slow or change a session.
 */
let emptyHome: string | undefined;
function testHome(): string {
  emptyHome ??= mkdtempSync(join(tmpdir(), 'tower-test-home-'));
  return emptyHome;
}

function launch(
  stateDir: string,
  extraArgs: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; httpUrl: string | null; output: () => string }> {
  const args = withFreePort(extraArgs);
  const http = !args.includes('--no-http');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [TOWER_BIN, '--state-dir', stateDir, 'serve', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: testHome(), ...extraEnv, TOWER_STATE_DIR: stateDir },
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const web = WEB_LINE.exec(output);
      if (http ? web : output.includes('listening on')) {
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (more: Buffer) => {
          output += more.toString();
        });
        resolvePromise({ child, httpUrl: web ? web[1]! : null, output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`daemon exited early (${code}): ${output}`)));
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/**
 * The session host outlives `tower serve` by design, so a test that never stops its daemon would leave
 * hosts behind: every host a test file started is killed when the file's process exits.
 */
const startedStateDirs = new Set<string>();
process.once('exit', () => {
  for (const stateDir of startedStateDirs) {
    const pid = readHostPid(stateDir);
    if (pid !== null) process.kill(pid, 'SIGKILL');
  }
});

export async function startTestDaemon(
  options: { stateDir?: string; serveArgs?: string[]; env?: Record<string, string> } = {},
): Promise<TestDaemon> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'tower-test-'));
  startedStateDirs.add(stateDir);
  let { child, httpUrl, output } = await launch(stateDir, options.serveArgs, options.env);
  const daemon: TestDaemon = {
    stateDir,
    socketPath: join(stateDir, 'tower.sock'),
    get process() {
      return child;
    },
    get httpUrl() {
      return httpUrl;
    },
    output: () => output(),
    connect: () => TowerClient.connect({ stateDir }),
    hostPid: () => readHostPid(stateDir),
    stop: async () => {
      const host = readHostPid(stateDir);
      child.kill('SIGTERM');
      await waitExit(child);
      if (host !== null) await endProcess(host, 'SIGTERM');
    },
    crash: async () => {
      const host = readHostPid(stateDir);
      child.kill('SIGKILL');
      if (host !== null) await endProcess(host, 'SIGKILL');
      await waitExit(child);
    },
    stopControlPlane: async (kill = false) => {
      child.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await waitExit(child);
    },
    restart: async () => {
      ({ child, httpUrl, output } = await launch(stateDir, options.serveArgs, options.env));
    },
    dispose: async () => {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
    rssBytes: () => readRss(child.pid!) + (readHostPid(stateDir) ? readRss(readHostPid(stateDir)!) : 0),
  };
  return daemon;
}

function readHostPid(stateDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(stateDir, 'host.pid'), 'utf8'));
    return running(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** Signal a process that is not our child, and wait until it is gone. */
async function endProcess(pid: number, signal: NodeJS.Signals): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  for (let waited = 0; waited < 15_000; waited += 20) {
    if (!running(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(pid, 'SIGKILL');
}

/** Alive and not a zombie (a host whose parent died may wait a while to be reaped). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Wait until `predicate` holds, polling; fail with `what` after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Collect a session's output events into one buffer, checking offsets are contiguous. */
export function collectOutput(client: TowerClient, sessionId: string) {
  const chunks: Buffer[] = [];
  let tail = '';
  let next: number | undefined;
  let gaps = 0;
  let closed: { exitCode: number | null; signal: number | null } | null = null;
  client.on('output', (event) => {
    if (event.sessionId !== sessionId) return;
    if (next !== undefined && event.offset !== undefined && event.offset !== next) gaps++;
    if (event.offset !== undefined) next = event.offset + event.data.length;
    chunks.push(event.data);
    tail = (tail + event.data.toString('latin1')).slice(-4096);
  });
  client.on('closed', (event) => {
    if (event.sessionId === sessionId) closed = { exitCode: event.exitCode, signal: event.signal };
  });
  return {
    text: () => Buffer.concat(chunks).toString('utf8'),
    bytes: () => Buffer.concat(chunks),
    /** The last 4 KiB as latin1: cheap to poll while megabytes stream in. */
    tail: () => tail,
    gaps: () => gaps,
    closed: () => closed,
  };
}

/** Read every retained byte of a session's journal through the socket. */
export async function readAllOutput(client: TowerClient, sessionId: string, from?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = from;
  for (;;) {
    const chunk = await client.readOutput(sessionId, offset, 512 * 1024);
    parts.push(chunk.data);
    offset = chunk.offset + chunk.data.length;
    if (offset >= chunk.lastOffset) return Buffer.concat(parts);
  }
}
