/** Where the daemon keeps its state, and the files inside it. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function resolveStateDir(flag?: string): string {
  return resolve(flag ?? process.env.TOWER_STATE_DIR ?? join(homedir(), '.tower'));
}

export function socketPath(stateDir: string): string {
  return join(stateDir, 'tower.sock');
}

export function tokenPath(stateDir: string): string {
  return join(stateDir, 'token');
}

/** The read-only (viewer) token for the web workspace; created by `tower token --viewer`. */
export function viewerTokenPath(stateDir: string): string {
  return join(stateDir, 'viewer-token');
}
