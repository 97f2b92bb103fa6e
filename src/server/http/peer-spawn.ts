/**
 * POST /api/peers/:name/sessions: spawn on a peer through this Tower, with this Tower's credential for
 * it, so a head agent (MCP spawn_agent with a peer) never holds a peer's token.
 */
import type { FastifyInstance } from 'fastify';
import { peerClient } from '../../federation/peer-client.js';
import { fleetId } from '../../protocol/federation.js';
import { API, route } from './api-spec.js';
import type { HttpContext } from './context.js';
import { HttpError } from './errors.js';
import { fromPeer } from './fleet-routes.js';

/** A spawn starts a program there: slower than a list, still bounded. */
const PEER_SPAWN_TIMEOUT_MS = 30_000;

export function registerPeerSpawn(app: FastifyInstance, ctx: HttpContext): void {
  route(app, API.peerCreateSession, async ({ request, id: name, body, reply }) => {
    // The loop guard: a peer's call stays on this Tower, never passed on to another peer.
    if (fromPeer(request)) {
      throw new HttpError(403, 'forbidden', "a peer's call is not relayed to another peer");
    }
    const record = ctx.federation.peers.get(name);
    if (!record) throw new HttpError(404, 'unknown_peer', `unknown peer: ${name} (tower peers lists them)`);
    if (record.token === null) {
      throw new HttpError(
        409,
        'no_credential',
        `peer ${name} gave this Tower no token: pair again to spawn there`,
      );
    }
    const client = peerClient(ctx.federation.identity, record, { timeoutMs: PEER_SPAWN_TIMEOUT_MS });
    const { session } = await client.call(API.createSession, { body }).catch((error: unknown) => {
      if (error instanceof Error) error.message = `peer ${name}: ${error.message}`;
      throw error;
    });
    reply.code(201);
    return { session: { ...session, id: fleetId(name, session.id) } };
  });
}
