/**
 * Optional resource limits for every session's process (`tower serve --limit nproc=512`), applied by
 * prlimit(1), which sets them and then execs the program: the session's pid is the program's own.
 */
import { existsSync } from 'node:fs';

export const PROCESS_LIMITS = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nofile',
  'nproc',
  'rss',
  'stack',
] as const;

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'];

/** "nofile=4096" (or "nofile=1024:4096", soft:hard) → [name, value]; throws with a message for people. */
export function parseProcessLimit(spec: string): [string, string] {
  const match = /^([a-z]+)=(unlimited|\d+[KMGT]?)(?::(unlimited|\d+[KMGT]?))?$/.exec(spec);
  if (!match || !(PROCESS_LIMITS as readonly string[]).includes(match[1]!)) {
    throw new Error(
      `must be NAME=VALUE[:HARD] with NAME one of ${PROCESS_LIMITS.join(', ')} (e.g. nproc=512, as=8G)`,
    );
  }
  return [match[1]!, match[3] ? `${match[2]}:${match[3]}` : match[2]!];
}

export function prlimitPath(): string | null {
  return PRLIMIT.find((path) => existsSync(path)) ?? null;
}

/** The program to spawn, wrapped in prlimit when limits are set. */
export function withProcessLimits(
  executable: string,
  args: string[],
  limits: Record<string, string> | undefined,
): { command: string; args: string[] } {
  const entries = Object.entries(limits ?? {});
  if (entries.length === 0) return { command: executable, args };
  const prlimit = prlimitPath();
  if (!prlimit) throw new Error('prlimit(1) is not installed (util-linux): process limits cannot be applied');
  return {
    command: prlimit,
    args: [...entries.map(([name, value]) => `--${name}=${value}`), '--', executable, ...args],
  };
}
