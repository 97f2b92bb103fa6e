/** Parsers for command-line option values; each fails with a message commander shows as is. */
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { TowerClient } from '../client/client.js';
import { LOCAL_SUBSTRATE } from '../protocol/index.js';

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

export function parsePositive(value: string): number {
  const n = parseCount(value);
  if (n === 0) throw new InvalidArgumentError('must be at least 1');
  return n;
}

export function parsePort(value: string): number {
  const n = parseCount(value);
  if (n > 65535) throw new InvalidArgumentError('must be a port number, 0-65535');
  return n;
}

/** Repeatable `--allow-origin`: each value must be exactly an origin, as browsers send it. */
export function collectOrigin(value: string, previous: string[]): string[] {
  let origin: string;
  try {
    origin = new URL(value).origin;
  } catch {
    throw new InvalidArgumentError('must be an origin such as https://tower.example:7613');
  }
  if (origin === 'null' || origin !== value.replace(/\/$/, '')) {
    throw new InvalidArgumentError(`must be an exact origin, scheme://host[:port], such as ${origin}`);
  }
  return [...previous, origin];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Repeatable `--env`: `NAME=VALUE` sets a variable for the session, `NAME` passes this shell's value
 * of it. Values are never echoed in errors (they may be secrets); names are.
 */
export function collectEnv(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  const name = at === -1 ? value : value.slice(0, at);
  if (!ENV_NAME.test(name)) {
    throw new InvalidArgumentError('must be NAME=VALUE, or NAME to pass on your value of NAME');
  }
  if (at !== -1) return { ...previous, [name]: value.slice(at + 1) };
  const own = process.env[name];
  if (own === undefined) throw new InvalidArgumentError(`${name} is not set in this environment`);
  return { ...previous, [name]: own };
}

/**
 * A working directory for the daemon: relative ones are resolved here, against the CLI's own directory;
 * `~` and `~/…` are left for the daemon, which expands them to its user's home.
 */
export function sessionCwd(dir: string): string {
  return dir === '~' || dir.startsWith('~/') ? dir : resolve(dir);
}

/**
 * A working directory on another machine (a remote substrate): a path there, so nothing is resolved
 * here; a relative one is under its user's home. None given: its home.
 */
export function remoteCwd(dir: string | undefined): string {
  if (dir === undefined) return '~';
  return dir === '~' || dir.startsWith('~/') || dir.startsWith('/') ? dir : `~/${dir}`;
}

/** Whether sessions on the substrate run on another machine (where this machine's paths mean nothing). */
export async function isRemote(client: TowerClient, substrate: string | undefined): Promise<boolean> {
  if (substrate === undefined || substrate === LOCAL_SUBSTRATE) return false;
  const { substrates } = await client.substrates();
  return substrates.find((candidate) => candidate.name === substrate)?.remote === true;
}
