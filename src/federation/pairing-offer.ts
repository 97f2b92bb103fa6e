/**
 * The side that shows the code: one pairing offer open at a time, with a one-time code that expires
 * and allows a few attempts. Each start is one guess (SPAKE2 lets an attacker test one code per run,
 * never offline), so the attempts are counted at start and the offer is void once they are used up.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { z } from 'zod';
import type { PeerScope } from '../protocol/federation.js';
import {
  PAIRING_ALPHABET,
  PAIRING_CODE_LENGTH,
  PAIRING_MAX_ATTEMPTS,
  type PairFinishBody,
  type PairFinishResponse,
  type PairOffer,
  type PairOfferState,
  type PairStartBody,
  type PairStartResponse,
} from '../protocol/pairing.js';
import { fingerprintOf, type Identity } from '../state/identity.js';
import { hashToken, newPeerToken, type PeerStore } from '../state/peers.js';
import {
  identityBytes,
  openToken,
  PAIRING_CONTEXT,
  type PairingIdentity,
  sealToken,
} from './pairing-seal.js';
import { macsEqual, Spake2, type Spake2Keys } from './spake2.js';

/** A refusal with its HTTP status and stable code (the routes answer it as is). */
export class PairingError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PairingError';
  }
}

/** Owners watching one offer at once; more are refused rather than queued. */
const MAX_WATCHERS = 8;

interface Exchange {
  id: string;
  keys: Spake2Keys;
  starter: PairingIdentity;
}

interface Offer {
  id: string;
  code: string;
  scope: PeerScope;
  expiresAt: number;
  state: PairOfferState['state'];
  attempts: number;
  /** Counts every change, so a watcher knows what it has seen. */
  changes: number;
  lastFailure: string | null;
  peer: PairOfferState['peer'];
  exchange: Exchange | null;
  watchers: Set<() => void>;
}

export function newPairingCode(): string {
  let code = '';
  for (let index = 0; index < PAIRING_CODE_LENGTH; index++) {
    code += PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)];
  }
  return code;
}

/** A code as people read it: two groups of four. */
export function displayCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export interface PairingOffersOptions {
  identity: () => Identity;
  store: PeerStore;
  /** This Tower's web URL, shown beside the code. */
  url: () => string;
  now?: () => number;
}

export class PairingOffers {
  private offer: Offer | null = null;
  private readonly now: () => number;

  constructor(private readonly options: PairingOffersOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A new offer; one still open is replaced (its watcher is told so). */
  open(scope: PeerScope, ttlS: number): z.infer<typeof PairOffer> {
    if (this.offer) this.settle(this.offer, 'replaced');
    const identity = this.options.identity();
    const offer: Offer = {
      id: randomBytes(12).toString('hex'),
      code: newPairingCode(),
      scope,
      expiresAt: this.now() + ttlS * 1000,
      state: 'open',
      attempts: 0,
      changes: 0,
      lastFailure: null,
      peer: null,
      exchange: null,
      watchers: new Set(),
    };
    this.offer = offer;
    return {
      id: offer.id,
      code: displayCode(offer.code),
      expires_at: new Date(offer.expiresAt).toISOString(),
      max_attempts: PAIRING_MAX_ATTEMPTS,
      scope,
      name: identity.name,
      fingerprint: identity.fingerprint,
      url: this.options.url(),
    };
  }

  state(id: string): PairOfferState {
    const offer = this.owned(id);
    return {
      state: offer.state,
      attempts: offer.attempts,
      changes: offer.changes,
      max_attempts: PAIRING_MAX_ATTEMPTS,
      last_failure: offer.lastFailure,
      peer: offer.peer,
    };
  }

  /** The offer's state once it differs from what the watcher saw (or after waitMs, or at expiry). */
  async watch(id: string, seenChanges: number, waitMs: number): Promise<PairOfferState> {
    const offer = this.owned(id);
    if (offer.state !== 'open' || offer.changes !== seenChanges || waitMs === 0) return this.state(id);
    if (offer.watchers.size >= MAX_WATCHERS) {
      throw new PairingError(429, 'too_many_watchers', 'this pairing offer is watched too often already');
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        offer.watchers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(waitMs, offer.expiresAt - this.now() + 1)));
      offer.watchers.add(done);
    });
    return this.state(id);
  }

  cancel(id: string): void {
    const offer = this.owned(id);
    if (offer.state === 'open') this.settle(offer, 'cancelled');
  }

  /** Message 1: the starter's SPAKE2 share and identity; ours, and our confirmation, back. */
  start(body: z.infer<typeof PairStartBody>): z.infer<typeof PairStartResponse> {
    const offer = this.openOffer();
    if (offer.attempts >= PAIRING_MAX_ATTEMPTS) {
      this.failed(offer, 'the last attempt was never finished');
      throw this.voidError();
    }
    const identity = this.options.identity();
    if (body.public_key === identity.publicKeyRaw) {
      throw new PairingError(400, 'bad_pairing', 'a Tower cannot pair with itself');
    }
    this.checkName(body.name, body.public_key);
    offer.attempts += 1;
    const starter: PairingIdentity = {
      name: body.name,
      public_key: body.public_key,
      scope: body.scope,
      url: body.url,
    };
    const own: PairingIdentity = {
      name: identity.name,
      public_key: identity.publicKeyRaw,
      scope: offer.scope,
      url: '',
    };
    const spake = new Spake2('B', offer.code, PAIRING_CONTEXT);
    let keys: Spake2Keys;
    try {
      keys = spake.finish(Buffer.from(body.message, 'base64'), identityBytes(starter), identityBytes(own));
    } catch (error) {
      this.failed(offer, 'a malformed pairing message was received');
      throw new PairingError(400, 'bad_pairing', (error as Error).message);
    }
    offer.exchange = { id: randomBytes(12).toString('hex'), keys, starter };
    this.notify(offer);
    return {
      exchange: offer.exchange.id,
      name: own.name,
      public_key: own.public_key,
      scope: own.scope,
      message: b64(spake.message),
      confirm: b64(keys.confirmB),
    };
  }

  /** Message 2: the starter's confirmation and its sealed token; ours back, and both stored. */
  finish(body: z.infer<typeof PairFinishBody>): z.infer<typeof PairFinishResponse> {
    const offer = this.openOffer();
    const exchange = offer.exchange;
    if (!exchange || exchange.id !== body.exchange) {
      throw new PairingError(404, 'unknown_exchange', 'no such pairing exchange is in progress');
    }
    offer.exchange = null;
    const theirs = body.token === null ? null : openToken(exchange.keys.ke, 'A->B', body.token);
    if (!macsEqual(Buffer.from(body.confirm, 'base64'), exchange.keys.confirmA) || theirs === null) {
      this.failed(
        offer,
        `a wrong code was tried (${offer.attempts} of ${PAIRING_MAX_ATTEMPTS} attempts used)`,
      );
      if (offer.state === 'void') {
        throw new PairingError(
          410,
          'pairing_void',
          `wrong pairing code; that was the last of ${PAIRING_MAX_ATTEMPTS} attempts, so the offer is void: ` +
            'start a new one with tower peer pair on the other Tower',
        );
      }
      throw new PairingError(
        403,
        'wrong_code',
        `wrong pairing code (${offer.attempts} of ${PAIRING_MAX_ATTEMPTS} attempts used)`,
      );
    }
    const { starter } = exchange;
    this.checkName(starter.name, starter.public_key);
    const ours = newPeerToken();
    const fingerprint = fingerprintOf(starter.public_key);
    this.options.store.put({
      name: starter.name,
      url: starter.url,
      fingerprint,
      public_key: starter.public_key,
      token: theirs,
      granted: { token_sha256: hashToken(ours), scope: offer.scope },
      given: starter.scope,
      added_by: 'paired',
      added_at: new Date(this.now()).toISOString(),
    });
    offer.peer = {
      name: starter.name,
      url: starter.url,
      fingerprint,
      granted: offer.scope,
      given: starter.scope,
    };
    this.settle(offer, 'paired');
    return { token: sealToken(exchange.keys.ke, 'B->A', ours) };
  }

  /** The open offer, or why there is none (nothing here says anything about the code). */
  private openOffer(): Offer {
    const offer = this.offer;
    if (offer && offer.state === 'open' && this.now() >= offer.expiresAt) this.settle(offer, 'expired');
    if (!offer || offer.state === 'replaced' || offer.state === 'cancelled' || offer.state === 'paired') {
      throw new PairingError(
        404,
        'no_pairing_offer',
        'no pairing offer is open on that Tower: run tower peer pair there for a new code',
      );
    }
    if (offer.state === 'expired') {
      throw new PairingError(
        410,
        'pairing_expired',
        'the pairing code has expired: run tower peer pair again',
      );
    }
    if (offer.state === 'void') throw this.voidError();
    return offer;
  }

  private voidError(): PairingError {
    return new PairingError(
      410,
      'pairing_void',
      `the pairing offer is void after ${PAIRING_MAX_ATTEMPTS} attempts: run tower peer pair again`,
    );
  }

  private owned(id: string): Offer {
    const offer = this.offer;
    if (!offer || offer.id !== id) {
      throw new PairingError(404, 'unknown_offer', 'no such pairing offer (a newer one replaced it?)');
    }
    if (offer.state === 'open' && this.now() >= offer.expiresAt) this.settle(offer, 'expired');
    return offer;
  }

  /** Someone else by that name is paired already: replacing it would silently drop a trusted peer. */
  private checkName(name: string, publicKey: string): void {
    const known = this.options.store.get(name);
    if (known && known.public_key !== publicKey) {
      throw new PairingError(
        409,
        'name_taken',
        `a peer named ${name} with another identity is known here: tower peer rm ${name} there first`,
      );
    }
  }

  private failed(offer: Offer, why: string): void {
    offer.lastFailure = why;
    if (offer.attempts >= PAIRING_MAX_ATTEMPTS) this.settle(offer, 'void');
    else this.notify(offer);
  }

  private settle(offer: Offer, state: PairOfferState['state']): void {
    offer.state = state;
    offer.exchange = null;
    this.notify(offer);
  }

  private notify(offer: Offer): void {
    offer.changes += 1;
    for (const watcher of [...offer.watchers]) watcher();
  }
}
