/**
 * Server-sent events: a session's output as text (the console contract of ConsoleEvent), and what
 * changes (sessions, agent status, attention, prompts: WorkspaceEvent).
 *
 * An output stream has its own daemon connection, so the daemon's per-connection flow control
 * applies: when the HTTP response cannot take more, the connection is paused and the daemon holds
 * back. The change streams share the HTTP layer's one watching connection instead (thousands of them
 * cost the daemon nothing); their events are small and few, and a reader that lets more than
 * MAX_UNSENT_EVENT_BYTES pile up is cut off, to reconnect and read the state again.
 */
import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ConsoleSink, relayConsole } from '../../federation/console-relay.js';
import type { Fleet } from '../../federation/fleet.js';
import { splitFleetId } from '../../protocol/federation.js';
import type { AttentionEvent } from '../../protocol/index.js';
import { SSE_KEEPALIVE_MS } from '../../protocol/limits.js';
import type { BootstrapStreamEvent, ConsoleEvent, WorkspaceEvent } from '../../protocol/web.js';
import { API, route } from './api-spec.js';
import type { HttpContext } from './context.js';
import { findBoxSubstrate, findSession } from './routes.js';

const IDLE_AFTER_MS = 500;
const MAX_UNSENT_EVENT_BYTES = 1024 * 1024;

/** An output stream's daemon connection, paused while the response cannot take more. */
interface FlowControl {
  pauseStream(): void;
  resumeStream(): void;
}

class EventStream {
  private readonly keepalive: NodeJS.Timeout;
  private ended = false;
  private paused = false;

  /** `flow`: what to pause when the reader is behind; without it, a reader too far behind is cut off. */
  constructor(
    private readonly response: ServerResponse,
    private readonly flow: FlowControl | null,
    onClose: () => void,
  ) {
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Accel-Buffering': 'no',
    });
    response.flushHeaders();
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    const release = () => {
      this.ended = true;
      clearInterval(this.keepalive);
      onClose();
    };
    // The browser may have gone while the daemon connection was being made: 'close' already fired.
    if (response.destroyed || !response.socket || response.socket.destroyed) release();
    else response.once('close', release);
  }

  send(event: string, data: unknown, id?: number | string): void {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.write(`${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** For a relay: each event sent, and a way to wait while the reader is behind. */
  sink(): ConsoleSink {
    return {
      send: (event, id) => {
        this.send(event.event, event, id);
        return this.ended || this.response.writableLength < MAX_UNSENT_EVENT_BYTES / 4;
      },
      drained: () =>
        new Promise((resolve) => {
          if (this.ended) return resolve();
          this.response.once('drain', resolve);
          this.response.once('close', resolve);
        }),
      fail: (message) => this.fail(message),
    };
  }

  /** The error event, then the end of the stream. */
  fail(message: string): void {
    if (this.ended) return;
    this.send('error', { event: 'error', message } satisfies ConsoleEvent);
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.response.end();
  }

  private write(text: string): void {
    if (this.ended) return;
    if (this.response.write(text) || this.paused) return;
    if (this.flow === null) {
      if (this.response.writableLength > MAX_UNSENT_EVENT_BYTES) this.response.destroy();
      return;
    }
    const flow = this.flow;
    this.paused = true;
    flow.pauseStream();
    this.response.once('drain', () => {
      this.paused = false;
      flow.resumeStream();
    });
  }
}

/** How many bytes at the end of `data` begin a UTF-8 character that is not complete yet. */
export function incompleteUtf8Tail(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const byte = data[data.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}

/** Bytes to text without ever splitting a character; an event's end offset is always a character boundary. */
class TextCursor {
  private readonly decoder = new StringDecoder('utf8');
  private held = Buffer.alloc(0);

  constructor(private offset: number) {}

  push(data: Buffer): Extract<ConsoleEvent, { event: 'output' }> | null {
    const pending = this.held.length > 0 ? Buffer.concat([this.held, data]) : data;
    const complete = pending.length - incompleteUtf8Tail(pending);
    this.held = Buffer.from(pending.subarray(complete));
    if (complete === 0) return null;
    this.offset += complete;
    return {
      event: 'output',
      data: this.decoder.write(pending.subarray(0, complete)),
      bytes: complete,
      offset: this.offset,
    };
  }
}

function lastEventId(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text && text.length <= 64 ? text : undefined;
}

function parseOffset(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

export function registerSse(app: FastifyInstance, ctx: HttpContext, fleet: Fleet): void {
  route(app, API.stream, async ({ request, reply, id, query }) => {
    const remote = splitFleetId(id);
    if (remote.peer !== null) {
      const peer = fleet.client(remote.peer);
      ctx.streams.admit(reply.raw);
      const stop = new AbortController();
      const stream = openStream(reply, null, () => stop.abort());
      const start = parseOffset(request.headers['last-event-id']) ?? query.offset;
      await relayConsole(peer, remote.peer, remote.id, start, stream.sink(), stop.signal);
      stream.end();
      return;
    }
    let idleTimer: NodeJS.Timeout | undefined;
    ctx.streams.admit(reply.raw);
    const client = await ctx.connect();
    const stream = openStream(reply, client, () => {
      clearTimeout(idleTimer);
      client.end();
    });
    client.once('disconnect', () => stream.fail('lost the connection to the Tower daemon'));
    const quietFrom = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(
        () => stream.send('idle', { event: 'idle' } satisfies ConsoleEvent),
        IDLE_AFTER_MS,
      );
    };

    let session: Awaited<ReturnType<typeof findSession>>;
    try {
      session = await findSession(client, id);
    } catch (error) {
      stream.fail((error as Error).message);
      return;
    }
    const start = parseOffset(request.headers['last-event-id']) ?? query.offset ?? session.first_offset;
    if (start < session.first_offset || start > session.last_offset) {
      stream.fail(
        `offset ${start} is not retained: output is held from ${session.first_offset} to ${session.last_offset}`,
      );
      return;
    }
    const text = new TextCursor(start);
    let sent = start;
    client.on('output', (output) => {
      if (output.sessionId !== id) return;
      const event = text.push(output.data);
      if (event === null) return;
      sent = event.offset;
      stream.send('output', event, event.offset);
      quietFrom();
    });
    // The daemon catches a slow reader up from disk; only one whose next bytes are no longer retained
    // is resynced with a snapshot, which text cannot carry: end here.
    client.on('snapshot', () =>
      stream.fail(`the stream fell behind what the journal retains: output after offset ${sent} is gone`),
    );
    client.on('error', (error) => stream.fail(error.message));

    stream.send('started', { event: 'started', offset: start } satisfies ConsoleEvent, start);
    quietFrom();
    try {
      await client.subscribe(id, { fromOffset: start });
    } catch (error) {
      stream.fail((error as Error).message);
    }
  });

  // The bootstrap runs in the session host: a reader that goes away stops listening, not the bootstrap.
  route(app, API.bootstrap, async ({ reply, id, body }) => {
    await findBoxSubstrate(ctx.client, id, true);
    ctx.streams.admit(reply.raw);
    const client = await ctx.connect();
    const stream = openStream(reply, null, () => client.end());
    const send = (event: BootstrapStreamEvent) => stream.send(event.type, event);
    client.once('disconnect', () => {
      send({ type: 'error', message: 'lost the connection to the Tower daemon' });
      stream.end();
    });
    try {
      const { state, joined } = await client.bootstrapSubstrate(
        id,
        { force: body.force, runtimes: body.runtimes },
        send,
      );
      send({ type: 'result', state, joined });
    } catch (error) {
      send({ type: 'error', message: (error as Error).message });
    }
    stream.end();
  });

  route(app, API.events, async ({ request, reply }) => {
    ctx.streams.admit(reply.raw);
    // Changes from the shared watch wait while the recent attention events are fetched for this stream.
    const early: WorkspaceEvent[] = [];
    let stream: EventStream | null = null;
    const replayedIds = new Set<string>();
    const deliver = (event: WorkspaceEvent) => {
      if (event.event !== 'attention') stream!.send(event.event, event);
      else if (!replayedIds.has(event.attention.id)) stream!.send(event.event, event, event.attention.id);
    };
    const stop = ctx.watchWorkspace({
      event: (event) => (stream ? deliver(event) : early.push(event)),
      lost: () => stream?.fail('lost the connection to the Tower daemon'),
    });
    let replayed: AttentionEvent[];
    try {
      // A reconnecting EventSource names the last attention event it got: only later ones again.
      replayed = await recentAttention(ctx, lastEventId(request.headers['last-event-id']));
    } catch (error) {
      stop();
      throw error;
    }
    stream = openStream(reply, null, stop);
    for (const attention of replayed) {
      replayedIds.add(attention.id);
      stream.send('attention', { event: 'attention', attention, replayed: true }, attention.id);
    }
    for (const event of early.splice(0)) deliver(event);
    replayedIds.clear();
  });
}

function openStream(reply: FastifyReply, flow: FlowControl | null, onClose: () => void): EventStream {
  reply.hijack();
  return new EventStream(reply.raw, flow, onClose);
}

/** The recent attention events the daemon holds (after `after`), through a connection of their own. */
async function recentAttention(ctx: HttpContext, after: string | undefined): Promise<AttentionEvent[]> {
  const client = await ctx.connect();
  const events: AttentionEvent[] = [];
  client.on('attention', (attention, replayed) => {
    if (replayed) events.push(attention);
  });
  try {
    await client.watchAttention({ replay: true, after });
  } finally {
    client.end();
  }
  return events;
}
