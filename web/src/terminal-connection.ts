/**
 * One terminal's WebSocket (/ws/terminal/:id): output with absolute offsets, ACKs, input with
 * sequence numbers, and reconnection.
 *
 * - Binary frames are output: 8-byte big-endian offset, then raw bytes. Bytes below what this
 *   connection already has (the last snapshot, or earlier frames) are dropped.
 * - The view ACKs from xterm's write callback; ACKs written in one task go out as one message.
 * - Input is numbered per client id (kept in sessionStorage) and kept until `input_ack`; after a
 *   reconnect everything the server has not applied (hello.input_seq) is sent again, once.
 * - A dropped connection comes back with `?offset=` (the next byte wanted) after an exponential
 *   backoff; the server sends the bytes from there, or a snapshot if they are gone.
 */
import { MAX_INPUT_MESSAGE_CHARS } from '../../src/protocol/limits.js';
import type { WsClientMessage, WsServerMessage } from './types.js';

type Msg<T extends WsServerMessage['type']> = Extract<WsServerMessage, { type: T }>;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'ended';

export interface ConnectionHandlers {
  hello(message: Msg<'hello'>): void;
  snapshot(message: Msg<'snapshot'>): void;
  /** `end`: the offset one past the last byte, to ACK once written. */
  output(bytes: Uint8Array, end: number): void;
  size(message: Msg<'size'>): void;
  exit(message: Msg<'exit'>): void;
  error(message: Msg<'error'>): void;
  state(state: ConnectionState, detail?: string): void;
}

const CLIENT_KEY = 'tower.client';
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE_CODES = new Set([4400, 4404, 1008]);

/** This page's stable client id: the same across reconnects and reloads of this tab. */
export function clientId(): string {
  let id = sessionStorage.getItem(CLIENT_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem(CLIENT_KEY, id);
  }
  return id;
}

export class TerminalConnection {
  private socket: WebSocket | null = null;
  /** The next output offset wanted; undefined until the first snapshot. */
  private expected: number | undefined;
  /** Input sent or waiting, until the server acknowledges its seq. */
  private pending: Array<{ seq: number; data: string }> = [];
  /** Typed before the first hello told us where this client's numbering stands. */
  private unnumbered: string[] = [];
  private seq: number | null = null;
  private ready = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ackOffset = 0;
  private ackQueued = false;
  private ended = false;
  private disposed = false;

  constructor(
    readonly sessionId: string,
    private readonly handlers: ConnectionHandlers,
  ) {}

  connect(): void {
    if (this.disposed || this.ended) return;
    const url = new URL(`/ws/terminal/${encodeURIComponent(this.sessionId)}`, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('client', clientId());
    if (this.expected !== undefined) url.searchParams.set('offset', String(this.expected));
    this.handlers.state(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      if (event.data instanceof ArrayBuffer) this.receiveOutput(event.data);
      else this.receiveMessage(String(event.data));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      if (FINAL_CLOSE_CODES.has(event.code)) this.end(event.reason || `closed (${event.code})`);
      else this.scheduleReconnect();
    };
  }

  /** Type text. Numbered and kept until the server confirms it; a long paste goes as several messages. */
  input(text: string): void {
    if (this.ended || this.disposed) return;
    for (const data of inputPieces(text)) {
      if (this.seq === null) {
        this.unnumbered.push(data);
        continue;
      }
      const entry = { seq: ++this.seq, data };
      this.pending.push(entry);
      if (this.ready) this.send({ type: 'input', seq: entry.seq, data: entry.data });
    }
  }

  resize(cols: number, rows: number): void {
    if (this.ready) this.send({ type: 'resize', cols, rows });
  }

  /** Output up to `offset` is on screen. */
  ack(offset: number): void {
    if (offset <= this.ackOffset) return;
    this.ackOffset = offset;
    if (this.ackQueued) return;
    this.ackQueued = true;
    queueMicrotask(() => {
      this.ackQueued = false;
      if (this.ready) this.send({ type: 'ack', offset: this.ackOffset });
    });
  }

  /** A fresh snapshot (`screenOnly`: the visible screen without scrollback); false when not connected. */
  requestSnapshot(screenOnly = false): boolean {
    if (!this.ready) return false;
    this.send(screenOnly ? { type: 'snapshot', screen_only: true } : { type: 'snapshot' });
    return true;
  }

  /** Stop for good: the view is gone. */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'closed');
  }

  private send(message: WsClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private receiveOutput(buffer: ArrayBuffer): void {
    if (buffer.byteLength < 8 || this.expected === undefined) return;
    const offset = Number(new DataView(buffer).getBigUint64(0, false));
    let bytes = new Uint8Array(buffer, 8);
    const end = offset + bytes.length;
    if (end <= this.expected) return;
    if (offset < this.expected) bytes = bytes.subarray(this.expected - offset);
    this.expected = end;
    this.handlers.output(bytes, end);
  }

  private receiveMessage(text: string): void {
    let message: WsServerMessage;
    try {
      message = JSON.parse(text) as WsServerMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'hello':
        this.onHello(message);
        return;
      case 'snapshot':
        this.expected = message.offset;
        this.ackOffset = message.offset;
        this.handlers.snapshot(message);
        return;
      case 'input_ack':
        this.pending = this.pending.filter((entry) => entry.seq > message.seq);
        return;
      case 'size':
        this.handlers.size(message);
        return;
      case 'exit':
        this.handlers.exit(message);
        return;
      case 'error':
        this.handlers.error(message);
        if (message.error === 'unknown_session') this.end(message.message);
        return;
    }
  }

  private onHello(message: Msg<'hello'>): void {
    this.ready = true;
    this.attempts = 0;
    // Whatever the server applied for this client id is done; the rest goes again, in order.
    this.pending = this.pending.filter((entry) => entry.seq > message.input_seq);
    this.seq = Math.max(this.seq ?? 0, message.input_seq);
    for (const data of this.unnumbered.splice(0)) this.pending.push({ seq: ++this.seq, data });
    this.handlers.hello(message);
    this.handlers.state('open');
    for (const entry of this.pending) this.send({ type: 'input', seq: entry.seq, data: entry.data });
  }

  private scheduleReconnect(): void {
    if (this.disposed || this.ended) return;
    const delay =
      Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempts) * (0.75 + Math.random() / 2);
    this.attempts += 1;
    this.handlers.state('reconnecting', `retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private end(detail: string): void {
    if (this.ended) return;
    this.ended = true;
    this.handlers.state('ended', detail);
  }

  /** How many reconnect attempts have failed in a row. */
  get failures(): number {
    return this.attempts;
  }
}

/**
 * Text in pieces of at most MAX_INPUT_MESSAGE_CHARS UTF-16 code units, so each `input` message stays
 * under the server's WebSocket message limit; never between the two halves of a surrogate pair.
 */
function inputPieces(text: string): string[] {
  if (text.length <= MAX_INPUT_MESSAGE_CHARS) return [text];
  const pieces: string[] = [];
  for (let start = 0; start < text.length; ) {
    let end = Math.min(start + MAX_INPUT_MESSAGE_CHARS, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}
