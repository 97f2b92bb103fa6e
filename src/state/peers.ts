/**
 * The peers this Tower trusts (<state-dir>/peers.json, 0600): where each is, its identity, the
 * credential this Tower presents to it, and the one it presents here (kept as a hash, with the scope
 * granted). Read afresh when the file changes, so a removed peer is refused at its next request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { FoundBy, PeerScope, peerName } from '../protocol/federation.js';
import { ConfigFile } from './config-file.js';
import { peersPath } from './paths.js';
import { tokensEqual } from './token.js';

export const PeerRecord = z.object({
  name: peerName,
  url: z.string().url(),
  /** SHA256:… of its Ed25519 public key; null for a peer added by token alone. */
  fingerprint: z.string().nullable().default(null),
  public_key: z.string().nullable().default(null),
  /** What this Tower sends it (Bearer); null when it gave none (it only calls us). */
  token: z.string().nullable().default(null),
  /** What it sends us: sha256 hex of its token, and what that token may do here. */
  granted: z.object({ token_sha256: z.string(), scope: PeerScope }).nullable().default(null),
  /** What our token may do there, as it said while pairing; null when not known (added by hand). */
  given: PeerScope.nullable().default(null),
  added_by: FoundBy,
  added_at: z.string(),
});
export type PeerRecord = z.infer<typeof PeerRecord>;

const PeersFile = z.object({ peers: z.array(PeerRecord) });

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newPeerToken(): string {
  return randomBytes(32).toString('hex');
}

export class PeerStore {
  private readonly file: ConfigFile;
  private records: PeerRecord[] = [];
  private problem: string | null = null;

  constructor(readonly stateDir: string) {
    this.file = new ConfigFile(peersPath(stateDir));
  }

  /** Every peer, as the file holds it now; a damaged file holds none (and says why in `error`). */
  all(): PeerRecord[] {
    const read = this.file.changed();
    if (read !== null) {
      this.problem = null;
      if ('absent' in read) this.records = [];
      else if ('error' in read) [this.records, this.problem] = [[], read.error];
      else {
        try {
          this.records = PeersFile.parse(JSON.parse(read.text)).peers;
        } catch (error) {
          this.records = [];
          this.problem = `${peersPath(this.stateDir)}: ${(error as Error).message.slice(0, 300)}`;
        }
      }
    }
    return this.records;
  }

  get error(): string | null {
    this.all();
    return this.problem;
  }

  get(name: string): PeerRecord | undefined {
    return this.all().find((peer) => peer.name === name);
  }

  /** The peer a presented token belongs to (every record compared, in constant time each). */
  byToken(token: string): PeerRecord | null {
    const hash = hashToken(token);
    let found: PeerRecord | null = null;
    for (const peer of this.all()) {
      if (peer.granted && tokensEqual(hash, peer.granted.token_sha256)) found = peer;
    }
    return found;
  }

  /** Add or replace the peer of that name (fields with a default may be left out). */
  put(record: z.input<typeof PeerRecord>): void {
    this.write([...this.all().filter((peer) => peer.name !== record.name), PeerRecord.parse(record)]);
  }

  /** False when no such peer. */
  remove(name: string): boolean {
    const before = this.all();
    const after = before.filter((peer) => peer.name !== name);
    if (after.length === before.length) return false;
    this.write(after);
    return true;
  }

  private write(peers: PeerRecord[]): void {
    const path = peersPath(this.stateDir);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ peers }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
    this.records = peers;
  }
}
