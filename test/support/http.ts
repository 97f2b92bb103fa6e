/** Talking to the daemon's web workspace as a browser or a script would: fetch, cookies, and SSE. */
import { waitFor } from './daemon.js';

export interface ApiCall {
  method?: string;
  /** Sent as JSON unless a string (sent as is, as application/json). */
  body?: unknown;
  /** A Bearer token. */
  token?: string;
  cookie?: string;
  origin?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function api(base: string, path: string, call: ApiCall = {}): Promise<Response> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
  if (call.cookie !== undefined) headers.cookie = call.cookie;
  if (call.origin !== undefined) headers.origin = call.origin;
  let body: string | undefined;
  if (call.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  }
  return fetch(`${base}${path}`, { method: call.method ?? 'GET', headers, body, signal: call.signal });
}

/** The status and, for a JSON answer, its body. */
export async function apiJson(
  base: string,
  path: string,
  call: ApiCall = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await api(base, path, call);
  const json = response.headers.get('content-type')?.startsWith('application/json')
    ? ((await response.json()) as Record<string, unknown>)
    : {};
  return { status: response.status, json };
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the server, checked field by field in the tests
  data: any;
}

/** Reads a text/event-stream response in the background; `ended` once the server closes it. */
export class SseReader {
  readonly events: SseEvent[] = [];
  ended = false;
  private readonly controller = new AbortController();

  private response: Response | null = null;

  /** `paused`: leave the body unread (a stalled browser) until `start()`. */
  static async open(
    base: string,
    path: string,
    call: ApiCall = {},
    options: { paused?: boolean } = {},
  ): Promise<SseReader> {
    const reader = new SseReader();
    const response = await api(base, path, { ...call, signal: reader.controller.signal });
    if (response.status !== 200)
      throw new Error(`SSE ${path}: HTTP ${response.status} ${await response.text()}`);
    expectEventStream(response);
    reader.response = response;
    if (!options.paused) reader.start();
    return reader;
  }

  start(): void {
    this.pump(this.response!).catch(() => {});
  }

  close(): void {
    this.controller.abort();
  }

  /** Wait until an event satisfies `predicate`; returns it. */
  async next(predicate: (event: SseEvent) => boolean, what: string, timeoutMs = 10_000): Promise<SseEvent> {
    try {
      return await waitFor(() => this.events.find(predicate), what, timeoutMs);
    } catch (error) {
      const seen = JSON.stringify(this.events).slice(-4000);
      throw new Error(`${(error as Error).message}; events (last 4000 chars): ${seen}`);
    }
  }

  async waitEnded(timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.ended, 'the server to end the stream', timeoutMs);
  }

  outputs(): SseEvent[] {
    return this.events.filter((event) => event.event === 'output');
  }

  private async pump(response: Response): Promise<void> {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          this.parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } finally {
      this.ended = true;
    }
  }

  private parseBlock(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) this.events.push({ event, id, data: JSON.parse(data.join('\n')) });
  }
}

function expectEventStream(response: Response): void {
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream')) throw new Error(`not an event stream: ${type}`);
}

/** The `name=value` part of a Set-Cookie header, and its attributes in lower case. */
export function parseSetCookie(header: string | null): { pair: string; attributes: string[] } {
  if (header === null) throw new Error('no Set-Cookie header');
  const [pair, ...attributes] = header.split(';').map((part) => part.trim());
  return { pair: pair!, attributes: attributes.map((a) => a.toLowerCase()) };
}
