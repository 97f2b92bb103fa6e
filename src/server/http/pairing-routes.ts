/**
 * Pairing over HTTP: the owner's routes (open an offer and watch it; pair with another Tower's URL)
 * and the two public routes the other Tower calls. The public ones are throttled like wrong tokens:
 * a wrong code, or knocking while no offer is open, counts as a failure of the caller's address.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TowerHttpClient } from '../../client/http-client.js';
import { pairWith } from '../../federation/pairing-client.js';
import { PairingError, PairingOffers } from '../../federation/pairing-offer.js';
import { AttemptRefused, type AuthThrottle } from '../../state/auth-throttle.js';
import type { Identity } from '../../state/identity.js';
import type { PeerStore } from '../../state/peers.js';
import { API, route } from './api-spec.js';
import { HttpError, retryLater } from './errors.js';

export interface PairingRoutesOptions {
  identity: Identity;
  peers: PeerStore;
  throttle: AuthThrottle;
  /** This Tower's web URL, known once it listens. */
  url: () => string;
}

/** Pairing messages are small; a hostile Tower's reply costs at most this. */
const MAX_PAIRING_REPLY_BYTES = 16 * 1024;
const PAIRING_TIMEOUT_MS = 10_000;

export function registerPairingRoutes(app: FastifyInstance, options: PairingRoutesOptions): void {
  const identity = (): Identity => options.identity;
  const offers = new PairingOffers({ identity, store: options.peers, url: options.url });

  const ownerOnly = (request: FastifyRequest) => {
    if (request.towerRole !== 'admin' || request.towerPeer !== null) {
      throw new HttpError(
        403,
        'owner_only',
        "pairing is for this Tower's owner (its admin token), not a peer",
      );
    }
  };
  const asHttp = async <T>(work: () => T | Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof PairingError) throw new HttpError(error.status, error.code, error.message);
      throw error;
    }
  };
  /** A public pairing call under the wrong-token throttle: refused while its address has too many failures. */
  const throttled = async <T>(request: FastifyRequest, work: () => T): Promise<T> => {
    try {
      options.throttle.admit(request.ip);
    } catch (error) {
      if (!(error instanceof AttemptRefused)) throw error;
      throw retryLater(429, 'too_many_attempts', error.message, error.retryAfterMs);
    }
    try {
      return await asHttp(work);
    } catch (error) {
      if (error instanceof HttpError && error.status !== 409) await options.throttle.failed(request.ip);
      throw error;
    }
  };

  route(app, API.pairOffer, ({ request, body, reply }) => {
    ownerOnly(request);
    reply.code(201);
    return offers.open(body.scope, body.ttl_s);
  });
  route(app, API.pairOfferState, ({ request, id, query }) => {
    ownerOnly(request);
    return asHttp(() => offers.watch(id, query.seen, query.wait_ms));
  });
  route(app, API.pairOfferCancel, ({ request, id }) => {
    ownerOnly(request);
    return asHttp(() => {
      offers.cancel(id);
      return { ok: true as const };
    });
  });
  route(app, API.pairWith, ({ request, body, reply }) => {
    ownerOnly(request);
    const client = new TowerHttpClient({
      url: body.url,
      timeoutMs: PAIRING_TIMEOUT_MS,
      maxReplyBytes: MAX_PAIRING_REPLY_BYTES,
    });
    return asHttp(async () => {
      const peer = await pairWith({
        client,
        code: body.code,
        scope: body.scope,
        ownUrl: body.advertise_url ?? options.url(),
        identity: identity(),
        store: options.peers,
      });
      reply.code(201);
      return peer;
    });
  });
  route(app, API.pairStart, ({ request, body }) => throttled(request, () => offers.start(body)));
  route(app, API.pairFinish, ({ request, body }) => throttled(request, () => offers.finish(body)));
}
