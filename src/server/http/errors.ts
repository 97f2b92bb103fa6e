/** HTTP errors as `{error, message}` bodies, and how daemon and parser failures map to statuses. */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { ZodType } from 'zod';
import { ClientError } from '../../client/client.js';
import { TowerHttpError } from '../../client/http-client.js';
import { describeIssues } from '../../protocol/validation.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 429 or 503 with a Retry-After (whole seconds, at least 1). */
export function retryLater(status: 429 | 503, code: string, message: string, afterMs: number): HttpError {
  return new HttpError(status, code, message, {
    'Retry-After': String(Math.max(1, Math.ceil(afterMs / 1000))),
  });
}

const CLIENT_ERROR_STATUS: Record<string, number> = {
  unknown_session: 404,
  bad_cwd: 400,
  command_not_found: 400,
  bad_message: 400,
  too_large: 413,
  session_exists: 409,
  session_running: 409,
  session_not_running: 409,
  offset_not_retained: 416,
  input_full: 429,
  too_many_sessions: 429,
  unknown_runtime: 400,
  runtime_blocked: 409,
  unknown_substrate: 400,
  substrate_unavailable: 503,
  not_supported: 400,
  unknown_prompt: 404,
  prompt_not_queued: 409,
  not_an_agent: 409,
  queue_full: 429,
  disconnected: 503,
  daemon_not_running: 503,
  // The daemon refused this server's own connection: a flood of wrong tokens on its socket.
  too_many_attempts: 503,
};

export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  // A peer's answer (or that it gave none) is passed on as it came.
  if (error instanceof TowerHttpError) return new HttpError(error.status, error.code, error.message);
  if (error instanceof ClientError) {
    return new HttpError(CLIENT_ERROR_STATUS[error.code] ?? 500, error.code, error.message);
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const malformedJson =
      fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError;
    return malformedJson
      ? new HttpError(400, 'bad_json', `malformed JSON body: ${fastifyError.message}`)
      : new HttpError(status, 'bad_request', fastifyError.message ?? 'bad request');
  }
  return new HttpError(500, 'internal', `internal error: ${(error as Error)?.message ?? String(error)}`);
}

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const { status, code, message, headers } = toHttpError(error);
  return reply.code(status).headers(headers).type('application/json').send({ error: code, message });
}

export function parseWith<S extends ZodType>(schema: S, value: unknown, what: string): S['_zod']['output'] {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new HttpError(400, 'bad_request', `invalid ${what}: ${describeIssues(parsed.error, '(body)')}`);
  return parsed.data;
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, _request, reply) => {
    sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(
      reply,
      new HttpError(404, 'not_found', `no route: ${request.method} ${request.url.split('?')[0]}`),
    );
  });
}
