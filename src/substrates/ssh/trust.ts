/**
 * Accepting a box's host key, the documented way (`tower substrates trust NAME`): connect, read the
 * key each hop presents (the jump host's, then the box's), and add to Tower's known_hosts only the keys
 * whose fingerprints the user confirmed, as read again now. A key that contradicts a known one is never
 * replaced here: the user removes the old line first, knowing why it changed.
 */
import { join } from 'node:path';
import type { SshConfig } from './config.js';
import { dial, type Hop, knownHostsFiles, LinkFailure } from './connect.js';
import {
  appendKnownHost,
  checkHostKey,
  describeVerdict,
  expandHome,
  fingerprint,
  keyType,
  readKnownHosts,
} from './known-hosts.js';

export interface PresentedKey {
  role: Hop['role'];
  host: string;
  port: number;
  type: string;
  fingerprint: string;
  /** known: already trusted; trusted: added now; unknown: waiting for the user's confirmation. */
  status: 'known' | 'trusted' | 'unknown';
}

export interface TrustResult {
  keys: PresentedKey[];
  /** Where trusted keys are added. */
  file: string;
}

const STOP = 'read the host key';

/** The file `trust` writes: the configured known_hosts, else Tower's own. */
export function trustFile(stateDir: string, config: SshConfig): string {
  return config.known_hosts ? expandHome(config.known_hosts) : join(stateDir, 'known_hosts');
}

export async function trustHostKey(
  stateDir: string,
  config: SshConfig,
  confirmed: readonly string[] = [],
  readyTimeoutMs = 15_000,
): Promise<TrustResult> {
  const entries = await readKnownHosts(knownHostsFiles(config, stateDir));
  const keys: PresentedKey[] = [];
  const accepted: { hop: Hop; key: Buffer }[] = [];
  let refusal: string | null = null;
  try {
    const { client, jump } = await dial({
      config,
      stateDir,
      readyTimeoutMs,
      checkHostKey: (hop, key) => {
        const presented = { ...hop, type: keyType(key), fingerprint: fingerprint(key) };
        const verdict = checkHostKey(entries, hop.host, hop.port, key);
        if (verdict.status === 'known') keys.push({ ...presented, status: 'known' });
        else if (verdict.status === 'unknown' && confirmed.includes(presented.fingerprint)) {
          keys.push({ ...presented, status: 'trusted' });
          accepted.push({ hop, key });
        } else if (verdict.status === 'unknown') {
          keys.push({ ...presented, status: 'unknown' });
          return STOP;
        } else {
          refusal = describeVerdict(verdict, { name: config.name, host: hop.host, port: hop.port, key });
          return refusal;
        }
        // The box's key is all that is needed of it: no need to log in.
        return hop.role === 'jump' ? true : STOP;
      },
    });
    client.end();
    jump?.end();
  } catch (error) {
    const message = (error as Error).message;
    if (refusal !== null) throw new LinkFailure(refusal, true);
    if (!(error instanceof LinkFailure) || !message.endsWith(STOP)) throw error;
  }
  const file = trustFile(stateDir, config);
  for (const { hop, key } of accepted) await appendKnownHost(file, hop.host, hop.port, key);
  return { keys, file };
}
