/**
 * The fleet's routes: the session list with every peer's sessions (?scope=all), and the peers. A
 * request from a peer is answered with this Tower's own sessions only: that is the loop guard
 * (A↔B↔C↔A never recurse or list a session twice).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Fleet } from '../../federation/fleet.js';
import { type FleetSessionListResponse, PEER_HEADER } from '../../protocol/federation.js';
import type { Identity } from '../../state/identity.js';
import { TOWER_VERSION } from '../../state/version.js';
import { API, route } from './api-spec.js';
import type { HttpContext } from './context.js';
import { HttpError } from './errors.js';

export interface FleetRouteOptions {
  fleet: Fleet;
  identity: Pick<Identity, 'name' | 'fingerprint'>;
}

/** A Tower calling its peer (it says so, or it holds a peer's credential): the call stays on that peer. */
export function fromPeer(request: FastifyRequest): boolean {
  return request.headers[PEER_HEADER] !== undefined || request.towerPeer !== null;
}

export function registerFleetRoutes(
  app: FastifyInstance,
  ctx: HttpContext,
  options: FleetRouteOptions,
): void {
  const { fleet } = options;

  route(app, API.listSessions, async ({ request, query }): Promise<FleetSessionListResponse> => {
    const own = {
      tower: {
        name: options.identity.name,
        version: TOWER_VERSION,
        fingerprint: options.identity.fingerprint,
        scope: request.towerRole === 'admin' ? ('full' as const) : ('view' as const),
      },
    };
    if (fromPeer(request) || (query.scope !== 'all' && query.peer === undefined)) {
      return { sessions: await ctx.client.list(), ...own };
    }
    if (query.peer !== undefined) return { ...(await fleet.sessions(query.peer)), ...own };
    const [local, remote] = await Promise.all([ctx.client.list(), fleet.sessions()]);
    return { sessions: [...local, ...remote.sessions], peers: remote.peers, ...own };
  });

  route(app, API.peers, async ({ request }) => {
    // Who else this Tower knows, and where, is its owner's business: a peer never sees it.
    if (fromPeer(request)) {
      throw new HttpError(403, 'owner_only', "a peer is not shown this Tower's other peers");
    }
    return { peers: await fleet.peers() };
  });
}
