/** Peers as `tower peers` lists them: the paired ones, with what discovery also found, then the unpaired. */
import type { FoundPeer, PeerInfo } from '../protocol/federation.js';

/** A found Tower is a known peer when its identity matches, or (without one) its URL does. */
function sameTower(peer: PeerInfo, found: FoundPeer): boolean {
  if (peer.fingerprint !== null && found.fingerprint !== null) return peer.fingerprint === found.fingerprint;
  return peer.url.replace(/\/+$/, '') === found.url.replace(/\/+$/, '');
}

export function mergeDiscovered(known: PeerInfo[], found: FoundPeer[]): PeerInfo[] {
  const merged = known.map((peer) => ({ ...peer, found_by: [...peer.found_by] }));
  const unpaired = new Map<string, PeerInfo>();
  for (const tower of found) {
    const peer = merged.find((candidate) => sameTower(candidate, tower));
    if (peer) {
      if (!peer.found_by.includes(tower.found_by)) peer.found_by.push(tower.found_by);
      continue;
    }
    const key = tower.fingerprint ?? tower.url;
    const seen = unpaired.get(key);
    if (seen) {
      if (!seen.found_by.includes(tower.found_by)) seen.found_by.push(tower.found_by);
      continue;
    }
    unpaired.set(key, {
      name: tower.name,
      url: tower.url,
      found_by: [tower.found_by],
      state: 'unpaired',
      rtt_ms: null,
      version: tower.version,
      fingerprint: tower.fingerprint,
      scope: null,
      last_seen: null,
      error: null,
    });
  }
  return [...merged, ...unpaired.values()];
}
