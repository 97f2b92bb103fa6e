/**
 * A session route named with `PEER/ID` is answered by the owning peer: this Tower calls it with the
 * credential that peer gave it (the caller never sees it), checks the reply against the route's
 * schema within a byte bound, and hands it back with the peer's ids as `PEER/ID`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorOf, TowerHttpClient, TowerHttpError } from '../../client/http-client.js';
import { asPeerSession, type Fleet } from '../../federation/fleet.js';
import { fleetId, splitFleetId } from '../../protocol/federation.js';
import type { SessionInfo } from '../../protocol/socket.js';
import { API, type RouteSpec } from './api-spec.js';
import { HttpError } from './errors.js';
import { fromPeer } from './fleet-routes.js';

/** Killing waits for the program to exit, restarting for the new one to start. */
const PROXY_TIMEOUT_MS = 15_000;
/** GET output sends at most 16 MiB; a peer sending more is cut off. */
const MAX_OUTPUT_REPLY_BYTES = 16 * 1024 * 1024;
const OUTPUT_HEADERS = ['x-tower-offset', 'x-tower-first-offset', 'x-tower-last-offset'];

const PROXIED: RouteSpec[] = [
  API.getSession,
  API.deleteSession,
  API.input,
  API.resize,
  API.restart,
  API.prompt,
  API.sessionPrompts,
  API.screen,
  API.output,
  API.stream,
];
const byRoute = new Map(PROXIED.map((spec) => [`${spec.method} ${spec.url}`, spec]));

export function registerFleetProxy(app: FastifyInstance, fleet: Fleet): void {
  app.addHook('preHandler', async (request, reply) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || !id.includes('/')) return;
    const spec = byRoute.get(`${request.method} ${request.routeOptions.url}`);
    if (!spec) return;
    if (fromPeer(request)) {
      throw new HttpError(
        404,
        'unknown_session',
        `unknown session: ${id} (a peer's call is not relayed further)`,
      );
    }
    // The stream is relayed by its own route (sse.ts), which resumes it by offset.
    if (spec === API.stream) return;
    const { peer, id: inner } = splitFleetId(id);
    try {
      if (spec === API.output) return await relayOutput(fleet, peer!, inner, request, reply);
      const client = fleet.client(peer!, { timeoutMs: PROXY_TIMEOUT_MS });
      const answer = await client.call(spec, { id: inner, query: queryOf(request), body: request.body });
      reply.code(okStatus(spec));
      return reply.send(toFleetIds(peer!, answer));
    } catch (error) {
      throw peerError(peer!, error);
    }
  });
}

async function relayOutput(
  fleet: Fleet,
  peer: string,
  id: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const client = fleet.client(peer, { timeoutMs: PROXY_TIMEOUT_MS, maxReplyBytes: MAX_OUTPUT_REPLY_BYTES });
  const answer = await client.raw('GET', TowerHttpClient.path(API.output, id), { query: queryOf(request) });
  if (answer.status !== 200) throw errorOf(answer.status, answer.body.toString('utf8'));
  for (const name of OUTPUT_HEADERS) {
    const value = answer.headers.get(name);
    if (value === null || !/^\d{1,16}$/.test(value)) {
      throw new TowerHttpError(502, 'bad_reply', `GET output: the reply has no valid ${name} header`);
    }
    reply.header(name, value);
  }
  return reply.type('application/octet-stream').send(answer.body);
}

function queryOf(request: FastifyRequest): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') query[key] = value;
  }
  return query;
}

function okStatus(spec: RouteSpec): number {
  return Number(Object.keys(spec.responses).find((status) => Number(status) < 300) ?? 200);
}

/** Ids in a peer's reply, as this Tower's clients address them. */
function toFleetIds(peer: string, answer: unknown): unknown {
  if (answer === null || typeof answer !== 'object') return answer;
  const out = { ...answer } as Record<string, unknown>;
  const prompt = (value: unknown) => ({
    ...(value as object),
    session_id: fleetId(peer, (value as { session_id: string }).session_id),
  });
  if (typeof out.session_id === 'string') out.session_id = fleetId(peer, out.session_id);
  if (out.session) out.session = asPeerSession(peer, out.session as SessionInfo);
  if (out.prompt) out.prompt = prompt(out.prompt);
  if (Array.isArray(out.prompts)) out.prompts = out.prompts.map(prompt);
  return out;
}

/** A peer refusing this Tower's credential is not the caller's login failing: 502, never 401. */
function peerError(peer: string, error: unknown): unknown {
  if (!(error instanceof TowerHttpError)) return error;
  if (error.status === 401) {
    return new HttpError(
      502,
      'peer_refused',
      `peer ${peer} refused this Tower's credential: ${error.message}`,
    );
  }
  return new HttpError(error.status, error.code, `peer ${peer}: ${error.message}`);
}
