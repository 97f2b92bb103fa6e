/** Where `tower serve` says its web API listens, so the CLI (ls --all, peers, mcp) can reach it. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { serveInfoPath } from './paths.js';

const ServeInfo = z.object({ url: z.string().url(), pid: z.number().int() });
export type ServeInfo = z.infer<typeof ServeInfo>;

export function writeServeInfo(stateDir: string, info: ServeInfo): void {
  writeFileSync(serveInfoPath(stateDir), `${JSON.stringify(info)}\n`, { mode: 0o600 });
}

/** The running serve's web API, or null when none runs (no file, a dead pid, a damaged file). */
export function readServeInfo(stateDir: string): ServeInfo | null {
  let parsed: ServeInfo;
  try {
    parsed = ServeInfo.parse(JSON.parse(readFileSync(serveInfoPath(stateDir), 'utf8')));
  } catch {
    return null;
  }
  try {
    process.kill(parsed.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return parsed;
}

/** Removed at a clean stop, and only if it is still this process's. */
export function removeServeInfo(stateDir: string, pid = process.pid): void {
  if (readServeInfo(stateDir)?.pid === pid) rmSync(serveInfoPath(stateDir), { force: true });
}
