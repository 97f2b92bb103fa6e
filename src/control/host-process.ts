/**
 * Finding the session host, or starting it: `tower host` in the background, in its own session (so a
 * terminal closing or the control plane dying never signals it), printing to host.log.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ClientError, TowerClient } from '../client/client.js';
import { hostLogPath } from '../state/paths.js';

export const TOWER_BIN = fileURLToPath(new URL('../../bin/tower.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
/** host.log is started afresh past this size when a new host starts. */
const MAX_LOG_BYTES = 1024 * 1024;
const FOLLOW_MS = 250;

export interface HostConnection {
  client: TowerClient;
  /** This call started the host (none ran). */
  started: boolean;
  /** Where host.log stood before this host started: what it printed since is the caller's to show. */
  logFrom: number;
}

/** Connect to the running host, or start one with `args` (`tower host` options) and connect to it. */
export async function connectHost(stateDir: string, args: string[]): Promise<HostConnection> {
  try {
    return { client: await TowerClient.connect({ stateDir }), started: false, logFrom: logSize(stateDir) };
  } catch (error) {
    if (!(error instanceof ClientError) || error.code !== 'daemon_not_running') throw error;
  }
  const log = hostLogPath(stateDir);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (logSize(stateDir) > MAX_LOG_BYTES) fs.rmSync(log, { force: true });
  const logFrom = logSize(stateDir);
  const fd = fs.openSync(log, 'a', 0o600);
  const child = spawn(
    process.execPath,
    [TOWER_BIN, '--state-dir', stateDir, 'host', 'run', '--background', ...args],
    {
      detached: true,
      stdio: ['ignore', fd, fd],
    },
  );
  fs.closeSync(fd);
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      return { client: await TowerClient.connect({ stateDir }), started: true, logFrom };
    } catch (error) {
      const code = error instanceof ClientError ? error.code : '';
      if (code !== 'daemon_not_running' && code !== 'no_token') throw error;
    }
    if (exited !== null) {
      throw new Error(
        `the session host did not start (exit ${exited}): ${readLog(stateDir, logFrom).trim()}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`the session host did not start within ${START_TIMEOUT_MS} ms`);
    await sleep(25);
  }
}

function logSize(stateDir: string): number {
  try {
    return fs.statSync(hostLogPath(stateDir)).size;
  } catch {
    return 0;
  }
}

/** What host.log holds from `from` on (at most 1 MiB). */
export function readLog(stateDir: string, from: number): string {
  try {
    const fd = fs.openSync(hostLogPath(stateDir), 'r');
    try {
      const buffer = Buffer.alloc(Math.min(MAX_LOG_BYTES, Math.max(0, fs.fstatSync(fd).size - from)));
      const got = fs.readSync(fd, buffer, 0, buffer.length, from);
      return buffer.subarray(0, got).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * Pass on what the host printed from `from` on: what is there now at once, then as it comes.
 * Returns a function that stops.
 */
export function followLog(stateDir: string, from: number, write: (text: string) => void): () => void {
  let at = from;
  const pass = () => {
    const size = logSize(stateDir);
    if (size < at) at = 0;
    if (size === at) return;
    const text = readLog(stateDir, at);
    at += Buffer.byteLength(text);
    write(text);
  };
  pass();
  const timer = setInterval(pass, FOLLOW_MS);
  timer.unref();
  return () => clearInterval(timer);
}
