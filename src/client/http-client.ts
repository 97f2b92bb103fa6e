/**
 * The typed HTTP client of a Tower's web API, derived from the route table (src/protocol/api.ts):
 * a call names a route spec, never a path. Every reply is bounded (time and bytes) and checked
 * against the route's schema, so a slow, hostile or broken server costs one clear error.
 */
import type { z } from 'zod';
import type { RouteSpec } from '../protocol/route-spec.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_REPLY_BYTES = 8 * 1024 * 1024;

export interface HttpClientOptions {
  /** scheme://host:port, no trailing slash. */
  url: string;
  /** Sent as `Authorization: Bearer`. */
  token?: string;
  /** Extra headers on every request (a peer's identity, say). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  maxReplyBytes?: number;
}

export interface CallInput {
  /** The `:id` or `:name` path parameter. */
  id?: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

type OkStatus = 200 | 201 | 202;
/** What a route answers on success, as its schema parses it. */
export type ReplyOf<S extends RouteSpec> = {
  [K in keyof S['responses']]: K extends OkStatus
    ? S['responses'][K] extends { schema: infer T extends z.ZodType }
      ? z.output<T>
      : unknown
    : never;
}[keyof S['responses']];

/** The server answered with an error (its stable code), or could not be reached or understood. */
export class TowerHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TowerHttpError';
  }
}

export interface RawReply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export class TowerHttpClient {
  readonly url: string;
  private readonly options: HttpClientOptions;

  constructor(options: HttpClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.options = options;
  }

  /** The path of a route with its parameter filled in (encoded: a fleet id's `/` stays one segment). */
  static path(spec: RouteSpec, id = ''): string {
    return spec.url.replace(/:(id|name)\b/, encodeURIComponent(id));
  }

  async call<S extends RouteSpec>(spec: S, input: CallInput = {}): Promise<ReplyOf<S>> {
    const reply = await this.raw(spec.method, TowerHttpClient.path(spec, input.id), input);
    const text = reply.body.toString('utf8');
    if (reply.status >= 300) throw errorOf(reply.status, text);
    const response = spec.responses[reply.status];
    if (!response) throw new TowerHttpError(502, 'bad_reply', `unexpected status ${reply.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new TowerHttpError(502, 'bad_reply', `${spec.method} ${spec.url}: the reply is not JSON`);
    }
    if (!response.schema) return parsed as ReplyOf<S>;
    const checked = response.schema.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new TowerHttpError(
        502,
        'bad_reply',
        `${spec.method} ${spec.url}: malformed reply (${issue?.path.join('.') || 'body'}: ${issue?.message})`,
      );
    }
    return checked.data as ReplyOf<S>;
  }

  /**
   * A request whose reply is read as it comes (an event stream): the timeout covers only the wait
   * for its headers; the caller reads the body, and aborts `input.signal` to stop.
   */
  async open(
    method: string,
    path: string,
    input: CallInput & { headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.options.headers, ...input.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(),
      input.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    );
    const signal = input.signal ? AbortSignal.any([input.signal, timeout.signal]) : timeout.signal;
    try {
      const response = await fetch(`${this.url}${path}`, { method, headers, signal, redirect: 'error' });
      if (response.status >= 300) {
        const body = await readBounded(response, 64 * 1024).catch(() => Buffer.alloc(0));
        throw errorOf(response.status, body.toString('utf8'));
      }
      return response;
    } catch (error) {
      throw error instanceof TowerHttpError ? error : unreachable(this.url, error, timeout.signal.aborted);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Any request, its reply read whole up to the byte bound. */
  async raw(method: string, path: string, input: CallInput = {}): Promise<RawReply> {
    const query = Object.entries(input.query ?? {}).filter(([, value]) => value !== undefined);
    const search = query.length ? `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)]))}` : '';
    const timeout = AbortSignal.timeout(input.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS);
    const signal = input.signal ? AbortSignal.any([input.signal, timeout]) : timeout;
    const headers: Record<string, string> = { ...this.options.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (input.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}${search}`, {
        method,
        headers,
        body: input.body === undefined ? undefined : JSON.stringify(input.body),
        signal,
        redirect: 'error',
      });
    } catch (error) {
      throw unreachable(this.url, error, timeout.aborted);
    }
    const body = await readBounded(response, this.options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES).catch(
      (error: unknown) => {
        throw error instanceof TowerHttpError ? error : unreachable(this.url, error, timeout.aborted);
      },
    );
    return { status: response.status, headers: response.headers, body };
  }
}

async function readBounded(response: Response, limit: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw new TowerHttpError(502, 'reply_too_large', `the reply is ${declared} bytes, over ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (!response.body) return Buffer.alloc(0);
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => {});
      throw new TowerHttpError(502, 'reply_too_large', `the reply is over ${limit} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The error a non-2xx reply carries (its code and message, bounded), or a plain HTTP one. */
export function errorOf(status: number, text: string): TowerHttpError {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string' && typeof body.message === 'string') {
      return new TowerHttpError(status, body.error.slice(0, 100), body.message.slice(0, 1000));
    }
  } catch {}
  return new TowerHttpError(status, 'http_error', `HTTP ${status}`);
}

function unreachable(url: string, error: unknown, timedOut: boolean): TowerHttpError {
  if (timedOut) return new TowerHttpError(504, 'timeout', `${url} did not answer in time`);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  return new TowerHttpError(503, 'unreachable', `cannot reach ${url}: ${reason}`);
}
