/**
 * The side that types the code: SPAKE2 with the Tower that shows it, its confirmation checked before
 * anything of ours is sent, then the peer tokens exchanged sealed under the pairing key.
 */
import { type TowerHttpClient, TowerHttpError } from '../client/http-client.js';
import { API } from '../protocol/api.js';
import type { PeerScope } from '../protocol/federation.js';
import { normalizePairingCode, type PairedPeer } from '../protocol/pairing.js';
import { fingerprintOf, type Identity } from '../state/identity.js';
import { hashToken, newPeerToken, type PeerStore } from '../state/peers.js';
import { b64, PairingError } from './pairing-offer.js';
import {
  identityBytes,
  openToken,
  PAIRING_CONTEXT,
  type PairingIdentity,
  sealToken,
} from './pairing-seal.js';
import { macsEqual, Spake2 } from './spake2.js';

export interface PairWithOptions {
  /** Reaches the Tower that shows the code (its URL, no credentials). */
  client: TowerHttpClient;
  code: string;
  /** What the other Tower may do here. */
  scope: PeerScope;
  /** How the other Tower reaches this one. */
  ownUrl: string;
  identity: Identity;
  store: PeerStore;
}

/** The other Tower's refusals keep their code; anything else it says, or not answering, is a 502. */
const PASSED_ON = new Set([
  'wrong_code',
  'no_pairing_offer',
  'pairing_expired',
  'pairing_void',
  'name_taken',
  'bad_pairing',
  'too_many_attempts',
]);

async function ask<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof TowerHttpError)) throw error;
    if (PASSED_ON.has(error.code)) throw new PairingError(error.status, error.code, error.message);
    const what =
      error.code === 'unreachable' || error.code === 'timeout' ? 'peer_unreachable' : 'bad_pairing';
    throw new PairingError(502, what, `the other Tower: ${error.message}`);
  }
}

export async function pairWith(options: PairWithOptions): Promise<PairedPeer> {
  const { client, identity, store } = options;
  const code = normalizePairingCode(options.code);
  if (code.length === 0) throw new PairingError(400, 'bad_request', 'the pairing code is empty');
  const own: PairingIdentity = {
    name: identity.name,
    public_key: identity.publicKeyRaw,
    scope: options.scope,
    url: options.ownUrl,
  };
  const spake = new Spake2('A', code, PAIRING_CONTEXT);
  const started = await ask(() =>
    client.call(API.pairStart, { body: { version: 1, ...own, message: b64(spake.message) } }),
  );
  const other: PairingIdentity = {
    name: started.name,
    public_key: started.public_key,
    scope: started.scope,
    url: '',
  };
  if (other.public_key === identity.publicKeyRaw) {
    throw new PairingError(400, 'bad_pairing', 'that URL is this Tower itself');
  }
  const known = store.get(other.name);
  if (known && known.public_key !== other.public_key) {
    throw new PairingError(
      409,
      'name_taken',
      `a peer named ${other.name} with another identity is known here: tower peer rm ${other.name} first`,
    );
  }
  const keys = spake.finish(Buffer.from(started.message, 'base64'), identityBytes(own), identityBytes(other));
  const confirmed = macsEqual(Buffer.from(started.confirm, 'base64'), keys.confirmB);
  const ours = newPeerToken();
  // Our confirmation goes even when theirs failed, so the other side counts the wrong code at once;
  // it commits to the one code we tried, so it lets nobody test another.
  const finished = await ask(() =>
    client.call(API.pairFinish, {
      body: {
        exchange: started.exchange,
        confirm: b64(keys.confirmA),
        token: confirmed ? sealToken(keys.ke, 'A->B', ours) : null,
      },
    }),
  );
  const theirs = confirmed ? openToken(keys.ke, 'B->A', finished.token) : null;
  if (theirs === null) {
    throw new PairingError(
      403,
      'wrong_code',
      'wrong pairing code (the other Tower did not prove it knows it)',
    );
  }
  const fingerprint = fingerprintOf(other.public_key);
  const url = client.url;
  store.put({
    name: other.name,
    url,
    fingerprint,
    public_key: other.public_key,
    token: theirs,
    granted: { token_sha256: hashToken(ours), scope: options.scope },
    given: other.scope,
    added_by: 'paired',
    added_at: new Date().toISOString(),
  });
  return { name: other.name, url, fingerprint, granted: options.scope, given: other.scope };
}
