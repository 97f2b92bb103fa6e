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

/** The session host's pid, while it runs. */
export function hostPidPath(stateDir: string): string {
  return join(stateDir, 'host.pid');
}

/** What the session host prints, when `tower serve` started it in the background. */
export function hostLogPath(stateDir: string): string {
  return join(stateDir, 'host.log');
}

/** The control plane's own database: prompt history. */
export function agentsDbPath(stateDir: string): string {
  return join(stateDir, 'agents.db');
}

/** Where `tower serve` says its web API listens (url, pid), while it runs: the CLI's way to it. */
export function serveInfoPath(stateDir: string): string {
  return join(stateDir, 'serve.json');
}

/** This Tower's identity for its peers: name and Ed25519 key pair (0600). */
export function identityPath(stateDir: string): string {
  return join(stateDir, 'identity.json');
}

/** The peers this Tower trusts, and the credentials each way (0600). */
export function peersPath(stateDir: string): string {
  return join(stateDir, 'peers.json');
}

/** Federation settings the user edits: the static peers discovery lists (never trusted by that alone). */
export function federationConfigPath(stateDir: string): string {
  return join(stateDir, 'federation.json');
}
