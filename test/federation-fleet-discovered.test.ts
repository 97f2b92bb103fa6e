/** GET /api/peers merges what discovery found: a known Tower gains a way it was found, others are unpaired. */
import { describe, expect, it } from 'vitest';
import { mergeDiscovered } from '../dist/federation/fleet-discovered.js';
import type { FoundPeer, PeerInfo } from '../dist/protocol/federation.js';

const known: PeerInfo = {
  name: 'laptop',
  url: 'http://10.0.0.2:7681',
  found_by: ['paired'],
  state: 'online',
  rtt_ms: 3,
  version: '0.1.0',
  fingerprint: 'SHA256:laptop',
  scope: 'full',
  last_seen: null,
  error: null,
};
const found = (fields: Partial<FoundPeer>): FoundPeer => ({
  name: 'x',
  url: 'http://10.0.0.9:7681',
  fingerprint: null,
  version: null,
  found_by: 'mdns',
  ...fields,
});

describe('peers found by discovery', () => {
  it('adds how a paired Tower was found, matched by identity before URL', () => {
    const merged = mergeDiscovered(
      [known],
      [
        found({ fingerprint: 'SHA256:laptop', url: 'http://192.168.1.4:7681', found_by: 'mdns' }),
        found({ fingerprint: 'SHA256:laptop', found_by: 'tailscale' }),
      ],
    );
    expect(merged).toEqual([{ ...known, found_by: ['paired', 'mdns', 'tailscale'] }]);
  });

  it('lists a Tower with another identity at the same URL as unpaired, never as the known one', () => {
    const merged = mergeDiscovered([known], [found({ fingerprint: 'SHA256:impostor', url: known.url })]);
    expect(merged.map((peer) => [peer.name, peer.state, peer.fingerprint])).toEqual([
      ['laptop', 'online', 'SHA256:laptop'],
      ['x', 'unpaired', 'SHA256:impostor'],
    ]);
  });

  it('lists each unpaired Tower once, however many ways it was found', () => {
    const merged = mergeDiscovered(
      [],
      [found({ fingerprint: 'SHA256:new' }), found({ fingerprint: 'SHA256:new', found_by: 'static' })],
    );
    expect(merged).toMatchObject([{ state: 'unpaired', found_by: ['mdns', 'static'], scope: null }]);
    expect(merged).toHaveLength(1);
  });
});
