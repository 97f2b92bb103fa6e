/** The shape of one HTTP route as data, and the helpers the route tables are written with. */
import type { z } from 'zod';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Fastify syntax: `:id` for the session id (or prompt id), `:name` for a substrate's name. */
  url: string;
  summary: string;
  /** none: no credentials needed; read: admin or viewer; admin: admin only. */
  access: 'none' | 'read' | 'admin';
  body?: z.ZodType;
  query?: z.ZodObject;
  responses: Record<number, ResponseSpec>;
  /** Extra schemas the document should carry (messages of a non-HTTP protocol on this path). */
  components?: Record<string, z.ZodType>;
  /** Error statuses this route can answer beyond the common ones (400, 401, 403), with what they mean. */
  errors?: Record<number, string>;
  /** Called by other Towers, not browsers: a public route that needs no Origin header. */
  fromPeers?: true;
}

/** Generic in the schema, so the typed client knows what each route answers. */
export const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, schema });
export const sse = (description: string, schema: z.ZodType): ResponseSpec => ({
  description,
  schema,
  contentType: 'text/event-stream',
});
