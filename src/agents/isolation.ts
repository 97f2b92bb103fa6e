/**
 * What an agent on a substrate that hides the host (a sandbox) is let through: the credential
 * variables and files its runtime's gate rules name, the files its launch wrote and, when its runtime
 * reports through hooks, the program that reports (node and Tower, read-only; it writes to the
 * session's own terminal, which needs nothing else). On other substrates it sees everything anyway.
 */
import { fileURLToPath } from 'node:url';
import type { SessionAccess, Substrate } from '../substrates/types.js';
import type { AgentRuntime, Launch } from './spec.js';

/** Tower's own files: `tower hook` runs from them (bin/tower.js, dist, node_modules). */
const TOWER_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Isolation {
  access: Omit<SessionAccess, 'givenEnv'>;
  /** The daemon's socket is out of its sight: a host before protocol 3 must give it a hook socket. */
  hookChannel: boolean;
}

/** The names a runtime's gate rules give: what gives it a model upstream. */
export function credentialAccess(runtime: AgentRuntime | null) {
  const sources = runtime?.spec.credentials?.any_of ?? [];
  return {
    credentialEnv: sources.flatMap((source) => ('env' in source ? [source.env] : [])),
    credentialFiles: sources.flatMap((source) => ('file' in source ? [source.file] : [])),
  };
}

export function isolationFor(substrate: Substrate, runtime: AgentRuntime, launch: Launch): Isolation {
  const access = { ...credentialAccess(runtime), readOnly: launch.files ?? [] };
  if (!substrate.capabilities.isolated || !runtime.launch) return { access, hookChannel: false };
  return {
    access: { ...access, readOnly: [...access.readOnly, process.execPath, TOWER_ROOT] },
    hookChannel: true,
  };
}
