/** A peer's web API as this Tower calls it: its URL, the credential it gave us, our identity. */
import { type HttpClientOptions, TowerHttpClient } from '../client/http-client.js';
import { PEER_HEADER } from '../protocol/federation.js';
import type { Identity } from '../state/identity.js';
import type { PeerRecord } from '../state/peers.js';

export function peerClient(
  identity: Pick<Identity, 'fingerprint'>,
  record: PeerRecord,
  options: Omit<HttpClientOptions, 'url' | 'token' | 'headers'> = {},
): TowerHttpClient {
  return new TowerHttpClient({
    ...options,
    url: record.url,
    token: record.token ?? undefined,
    headers: { [PEER_HEADER]: identity.fingerprint },
  });
}
