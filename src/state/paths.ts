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
