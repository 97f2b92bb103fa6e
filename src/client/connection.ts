/**
 * The daemon's socket protocol under TowerClient: NDJSON and binary frames in, requests matched to their
 * replies by `req_id`, stream messages out as events. Knows no request by name.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameSplitter } from '../protocol/binary-frame.js';
import type {
  AttentionEvent,
  ClientMessage,
  DaemonMessage,
  DaemonMessageOf,
  PromptInfo,
} from '../protocol/index.js';
import { decodeOutputLine } from '../protocol/output-frame.js';
import { ClientError } from './errors.js';

export interface OutputEvent {
  sessionId: string;
  offset: number | undefined;
  data: Buffer;
}

export interface ClosedEvent {
  sessionId: string;
  exitCode: number | null;
  signal: number | null;
}

export interface ClientEvents {
  output: [OutputEvent];
  snapshot: [DaemonMessageOf<'snapshot'>];
  closed: [ClosedEvent];
  session_event: [DaemonMessageOf<'session_event'>];
  /** `replayed`: from the daemon's backlog (watchAttention with replay), not new. */
  attention: [AttentionEvent, boolean];
  prompt: [PromptInfo];
  error: [ClientError];
  disconnect: [];
  /** To the control plane only (see protocol/host.ts). */
  relay_request: [DaemonMessageOf<'relay_request'>];
  relay_closed: [DaemonMessageOf<'relay_closed'>];
  session_notice: [DaemonMessageOf<'session_notice'>];
}

type Pending = { resolve: (message: DaemonMessage) => void; reject: (error: Error) => void };
export type RequestBody = ClientMessage extends infer M
  ? M extends ClientMessage
    ? Omit<M, 'req_id'>
    : never
  : never;

const MAX_REPLY_LINE = 64 * 1024 * 1024;

/** A line as a message: null unless it is a JSON object with a string `type`. */
function parseMessage(line: string): DaemonMessage | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    return typeof (value as { type?: unknown }).type === 'string' ? (value as DaemonMessage) : null;
  } catch {
    return null;
  }
}

export class ClientConnection extends EventEmitter<ClientEvents> {
  private nextReqId = 1;
  protected readonly pending = new Map<number, Pending>();
  /** Requests answered by a stream of messages before their reply (bootstrap_substrate). */
  private readonly streams = new Map<number, (message: DaemonMessage) => void>();
  private readonly splitter = new FrameSplitter(MAX_REPLY_LINE);
  private closed = false;
  /** Why the connection was ended on our side (what the other end sent), for the requests it fails. */
  private failure: string | null = null;

  protected constructor(protected readonly socket: Duplex & { destroySoon?: () => void }) {
    super();
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.splitter.push(chunk)) {
        if ('badFrame' in event) {
          socket.destroy(new ClientError('protocol', `daemon sent ${event.badFrame}`));
          return;
        }
        if ('tooLong' in event) continue;
        // Output, nearly every byte that arrives, is a binary frame or a line decoded straight from its
        // bytes; the rest is JSON.
        const output = 'frame' in event ? event.frame : decodeOutputLine(event.bytes);
        if (output) {
          this.emit('output', output);
          continue;
        }
        if (!('bytes' in event)) continue;
        const line = event.bytes.toString('utf8');
        if (line.trim().length === 0) continue;
        // A box's bridge is another machine's output (a login banner, a hostile box): never a crash here.
        const message = parseMessage(line);
        if (!message) {
          this.failure = `the other end sent what is not Tower's protocol: ${JSON.stringify(line.slice(0, 80))}`;
          socket.destroy(new ClientError('protocol', this.failure));
          return;
        }
        this.receive(message);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const { reject } of this.pending.values())
        reject(
          this.failure
            ? new ClientError('protocol', this.failure)
            : new ClientError('disconnected', 'daemon closed the connection'),
        );
      this.pending.clear();
      this.emit('disconnect');
    });
    socket.on('error', () => {});
  }

  /**
   * Send one request and wait for its reply (or its error). `stream` gets the messages that come before
   * the reply of a request answered by a stream (bootstrap_event).
   */
  request(body: RequestBody, stream?: (message: DaemonMessage) => void): Promise<DaemonMessage> {
    const reqId = this.nextReqId++;
    const reply = new Promise<DaemonMessage>((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(new ClientError('disconnected', 'not connected to the daemon'));
        return;
      }
      this.pending.set(reqId, { resolve, reject });
      this.socket.write(`${JSON.stringify({ ...body, req_id: reqId })}\n`);
    });
    if (!stream) return reply;
    this.streams.set(reqId, stream);
    return reply.finally(() => this.streams.delete(reqId));
  }

  /** Send a message that has no reply (relay_reply). */
  notify(body: RequestBody): void {
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(body)}\n`);
  }

  /** Stop reading from the daemon: it then holds this connection's output within its own bounds
   *  (and catches it up from disk once read again). Requests' replies wait too. */
  pauseStream(): void {
    this.socket.pause();
  }

  resumeStream(): void {
    this.socket.resume();
  }

  /** Bytes written and not yet taken by the connection (a slow link's backlog). */
  unsentBytes(): number {
    return this.socket.writableLength;
  }

  /** The connection is closed (by either side); requests now fail with `disconnected`. */
  get disconnected(): boolean {
    return this.closed;
  }

  end(): void {
    this.socket.end();
    this.socket.destroySoon?.();
  }

  private receive(message: DaemonMessage): void {
    const reqId = 'req_id' in message ? message.req_id : undefined;
    if (message.type === 'bootstrap_event') {
      if (typeof reqId === 'number') this.streams.get(reqId)?.(message);
      return;
    }
    if (typeof reqId === 'number' && this.pending.has(reqId)) {
      const waiter = this.pending.get(reqId)!;
      this.pending.delete(reqId);
      if (message.type === 'error') waiter.reject(new ClientError(message.code ?? 'error', message.message));
      else waiter.resolve(message);
      return;
    }
    switch (message.type) {
      case 'session_output':
        if (typeof message.data !== 'string' || typeof message.session_id !== 'string') return;
        this.emit('output', {
          sessionId: message.session_id,
          offset: message.offset,
          data: Buffer.from(message.data, 'base64'),
        });
        return;
      case 'snapshot':
        this.emit('snapshot', message);
        return;
      case 'session_closed':
        this.emit('closed', {
          sessionId: message.session_id,
          exitCode: message.exit_code,
          signal: message.signal ?? null,
        });
        return;
      case 'session_event':
        this.emit('session_event', message);
        return;
      case 'attention':
        this.emit('attention', message.event, message.replayed === true);
        return;
      case 'prompt_event':
        this.emit('prompt', message.prompt);
        return;
      case 'relay_request':
      case 'relay_closed':
      case 'session_notice':
        this.emit(message.type, message as never);
        return;
      case 'error':
        if (this.listenerCount('error') > 0)
          this.emit('error', new ClientError(message.code ?? 'error', message.message));
        return;
    }
  }
}
