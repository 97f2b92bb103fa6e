/**
 * A small LAN made for one test: network namespaces joined by a veth pair, with addresses and a
 * multicast route, so mDNS runs between them as between two machines. Needs root and `ip netns`;
 * without them the test skips, or fails under TOWER_TEST_STRICT=1. Every namespace made is deleted
 * at teardown and, should the test die first, when its process exits.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TOWER_BIN } from './daemon.js';

const STRICT = process.env.TOWER_TEST_STRICT === '1';

function netnsWorks(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `tower-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'delete', probe], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `ip netns is not usable here: ${(error as Error).message.split('\n')[0]}`;
  }
}

const unusable = netnsWorks();
if (unusable && !STRICT) process.stderr.write(`network-namespace tests skipped: ${unusable}\n`);
/** Whether the namespace tests run (under TOWER_TEST_STRICT=1 they run, and fail if they cannot). */
export const RUN_NETNS = unusable === null || STRICT;

const made = new Set<string>();
process.once('exit', () => {
  for (const name of made) deleteNamespace(name);
});

function deleteNamespace(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'pipe' });
  } catch {}
  made.delete(name);
}

export interface Lan {
  /** One per end of the link: its namespace and IPv4 address. */
  ends: { ns: string; address: string }[];
  /** Run a program inside a namespace. */
  exec(ns: string, command: string, args: string[], options?: { timeout?: number }): string;
  destroy(): void;
}

/** Two namespaces on one veth link, 10.<subnet>.0.1 and .2, multicast routed onto it. */
export function makeLan(subnet = 100 + (process.pid % 100)): Lan {
  const tag = `${process.pid % 100000}`;
  const ends = [
    { ns: `tower-a-${tag}`, device: `twa${tag}`, address: `10.${subnet}.0.1` },
    { ns: `tower-b-${tag}`, device: `twb${tag}`, address: `10.${subnet}.0.2` },
  ];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  try {
    for (const end of ends) {
      ip('netns', 'add', end.ns);
      made.add(end.ns);
    }
    ip('link', 'add', ends[0]!.device, 'type', 'veth', 'peer', 'name', ends[1]!.device);
    for (const end of ends) {
      ip('link', 'set', end.device, 'netns', end.ns);
      ip('-n', end.ns, 'addr', 'add', `${end.address}/24`, 'dev', end.device);
      ip('-n', end.ns, 'link', 'set', 'lo', 'up');
      ip('-n', end.ns, 'link', 'set', end.device, 'up');
      ip('-n', end.ns, 'route', 'add', '224.0.0.0/4', 'dev', end.device);
    }
  } catch (error) {
    for (const end of ends) deleteNamespace(end.ns);
    throw new Error(`cannot make the test LAN: ${(error as Error).message}`);
  }
  return {
    ends: ends.map(({ ns, address }) => ({ ns, address })),
    exec: (ns, command, args, options = {}) =>
      execFileSync('ip', ['netns', 'exec', ns, command, ...args], {
        encoding: 'utf8',
        timeout: options.timeout ?? 10_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    // Deleting a namespace takes its end of the veth, and the other end with it.
    destroy: () => {
      for (const end of ends) deleteNamespace(end.ns);
    },
  };
}

export interface NamespacedServe {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

const WEB_LINE = /Tower web workspace: (\S+)\/#token=\S+\n/;

/** `tower serve` inside a namespace, in its own state dir; resolves once its web workspace listens. */
export function serveIn(ns: string, stateDir: string, args: string[]): Promise<NamespacedServe> {
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, TOWER_BIN, '--state-dir', stateDir, 'serve', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TOWER_STATE_DIR: stateDir } },
  );
  let output = '';
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    try {
      process.kill(Number(readFileSync(`${stateDir}/host.pid`, 'utf8')), 'SIGKILL');
    } catch {}
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`tower serve in ${ns} did not start: ${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const web = WEB_LINE.exec(output);
      if (web) {
        clearTimeout(timer);
        resolve({ url: web[1]!, output: () => output, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tower serve in ${ns} exited (${code}): ${output}`));
    });
  });
}
