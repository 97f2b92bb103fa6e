/** Handlers registered from the route table (src/protocol/api.ts), validated with its schemas. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { RouteSpec } from '../../protocol/route-spec.js';
import { parseWith } from './errors.js';

export { API, SCHEMA_COMPONENTS } from '../../protocol/api.js';
export type { ResponseSpec, RouteSpec } from '../../protocol/route-spec.js';

export interface RouteInput<B, Q> {
  request: FastifyRequest;
  reply: FastifyReply;
  /** The `:id` or `:name` path parameter ('' on routes without one). */
  id: string;
  body: B;
  query: Q;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** Register a handler for a spec; the body and query are validated first (400 naming the field). */
export function route<S extends RouteSpec>(
  app: FastifyInstance,
  spec: S,
  handler: (input: RouteInput<Parsed<S['body']>, Parsed<S['query']>>) => unknown,
): void {
  app.route({
    method: spec.method,
    url: spec.url,
    handler: async (request, reply) => {
      const body = spec.body ? parseWith(spec.body, request.body ?? {}, 'body') : undefined;
      const query = spec.query ? parseWith(spec.query, request.query ?? {}, 'query') : undefined;
      const params = request.params as { id?: string; name?: string };
      const id = params.id ?? params.name ?? '';
      return handler({ request, reply, id, body, query } as RouteInput<
        Parsed<S['body']>,
        Parsed<S['query']>
      >);
    },
  });
}
