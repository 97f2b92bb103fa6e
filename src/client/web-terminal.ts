/**
 * A Tower's WebSocket terminal (/ws/terminal/:id) as a program uses it: `tower attach PEER/ID`, the
 * federation relay's upstream, tests and benchmarks. Every output byte has an absolute offset, so a
 * dropped connection comes back from the next offset wanted: no gap, no duplicate. Input is numbered
 * per client id and kept until the server acknowledges it; after a reconnect whatever the server has
 * not applied (its hello's input_seq) goes again, and the server applies each seq once.
 *
 * Bounded: one message is at most maxMessageBytes (ws refuses a longer one from its header), input
 * waiting for an acknowledgement at most maxPendingInputBytes, and a server that says nothing after
 * the upgrade is dropped. A malformed message ends the terminal: a server that sends one is broken or
 * hostile, and retrying would only repeat it.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { WsClientMessage, WsServerMessage } from '../protocol/web.js';
import { decodeOutputFrame, decodeWsServerMessage, type WsData, wsBytes } from '../protocol/ws-terminal.js';

type Msg<T extends WsServerMessage['type']> = Extract<WsServerMessage, { type: T }>;

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_PENDING_INPUT_BYTES = 4 * 1024 * 1024;
const HELLO_TIMEOUT_MS = 10_000;
/**
 * A ping this often; a socket that brought nothing (no message, no pong) since the last one is taken
 * for dead and replaced: a link that died without a reset (a peer's network gone, a middlebox that
 * forgot the connection) is otherwise noticed only when TCP gives up, many minutes later.
 */
const HEARTBEAT_MS = 5_000;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** Close codes after which reconnecting cannot help (bad request, unknown session, policy). */
const FINAL_CLOSE_CODES = new Set([4400, 4404, 1008]);

export type WebTerminalState = 'connecting' | 'open' | 'reconnecting' | 'ended';

/** Why the terminal ended for good: a stable code and words for people. */
export interface WebTerminalEnd {
  error: string;
  message: string;
  /** The server's close code, when it closed. */
  closeCode?: number;
}

export interface WebTerminalHandlers {
  /** `first`: the first connection (later ones are resumptions). */
  hello?(message: Msg<'hello'>, first: boolean): void;
  snapshot?(message: Msg<'snapshot'>): void;
  /** New bytes only: never below what was delivered before. */
  output?(offset: number, data: Buffer): void;
  /** The server has applied input up to this seq. */
  inputAcked?(seq: number): void;
  size?(message: Msg<'size'>): void;
  exit?(message: Msg<'exit'>): void;
  error?(message: Msg<'error'>): void;
  state?(state: WebTerminalState, detail?: string): void;
  end?(end: WebTerminalEnd): void;
}

export interface WebTerminalOptions {
  /** The Tower's web API: scheme://host:port. */
  url: string;
  sessionId: string;
  token?: string;
  headers?: Record<string, string>;
  /** Input numbering is per client id; default: a random one for this terminal. */
  clientId?: string;
  /** Start from this offset; default: a snapshot, then what follows it. */
  offset?: number;
  /** ACK output as it arrives (a reader that renders nothing); otherwise call ack(). */
  autoAck?: boolean;
  maxMessageBytes?: number;
  maxPendingInputBytes?: number;
  /** Give up after this long without a connection (default 60 s). */
  giveUpMs?: number;
}

export class WebTerminalClient {
  readonly clientId: string;
  private socket: WebSocket | null = null;
  private state: WebTerminalState = 'connecting';
  /** The next offset wanted; undefined until the first snapshot (unless started at an offset). */
  private expected: number | undefined;
  private pending: Array<{ seq: number; data: string; bytes: number }> = [];
  private pendingBytes = 0;
  private lastSeq: number | null = null;
  /** The last seq the server has applied. */
  private applied = 0;
  private ready = false;
  private helloSeen = false;
  private awaitingSnapshot: 'whole' | 'screen' | null;
  private resizeWanted: { cols: number; rows: number } | null = null;
  private acked = 0;
  private paused = false;
  private attempts = 0;
  private downSince: number | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Something came on the socket since the last heartbeat. */
  private heard = true;

  constructor(
    private readonly options: WebTerminalOptions,
    private readonly handlers: WebTerminalHandlers = {},
  ) {
    this.clientId = options.clientId ?? randomBytes(12).toString('hex');
    this.expected = options.offset;
    this.awaitingSnapshot = options.offset === undefined ? 'whole' : null;
    this.connect();
  }

  /** The next offset wanted (one past the last byte delivered), if known yet. */
  get offset(): number | undefined {
    return this.expected;
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** Type text, numbered here. */
  input(data: string): boolean {
    return this.inputWithSeq((this.lastSeq ?? 0) + 1, data);
  }

  /** Input numbered by the caller (a relay passing its client's seqs on); false when the queue is full. */
  inputWithSeq(seq: number, data: string): boolean {
    if (this.state === 'ended') return false;
    if (this.pending.some((entry) => entry.seq >= seq) || seq <= this.applied) return true;
    const bytes = Buffer.byteLength(data);
    const limit = this.options.maxPendingInputBytes ?? DEFAULT_MAX_PENDING_INPUT_BYTES;
    if (this.pendingBytes + bytes > limit) return false;
    this.pending.push({ seq, data, bytes });
    this.pendingBytes += bytes;
    this.lastSeq = Math.max(this.lastSeq ?? 0, seq);
    if (this.ready) this.send({ type: 'input', seq, data });
    return true;
  }

  resize(cols: number, rows: number): void {
    if (this.ready) this.send({ type: 'resize', cols, rows });
    else this.resizeWanted = { cols, rows };
  }

  /** Output up to `offset` has been shown. */
  ack(offset: number): void {
    if (offset <= this.acked) return;
    this.acked = offset;
    if (this.ready) this.send({ type: 'ack', offset });
  }

  /** A fresh snapshot; asked again after a reconnect until it arrives. */
  requestSnapshot(screenOnly = false): void {
    if (this.awaitingSnapshot && !(screenOnly && this.awaitingSnapshot === 'whole')) return;
    this.awaitingSnapshot = screenOnly ? 'screen' : 'whole';
    if (this.ready) this.send(screenOnly ? { type: 'snapshot', screen_only: true } : { type: 'snapshot' });
  }

  /** Stop reading the server (its flow control then holds output back); resume() reads again. */
  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    // The heartbeat counts from here: nothing could be heard while paused.
    this.heard = true;
    this.socket?.resume();
  }

  close(): void {
    this.finish({ error: 'closed', message: 'closed by this side' }, false);
  }

  private connect(): void {
    if (this.state === 'ended') return;
    const url = new URL(`/ws/terminal/${encodeURIComponent(this.options.sessionId)}`, this.options.url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('client', this.clientId);
    // Waiting for a screen-only snapshot: resume at the offset and ask for it again once open.
    const resumeAt = this.awaitingSnapshot === 'whole' ? undefined : this.expected;
    if (resumeAt !== undefined) url.searchParams.set('offset', String(resumeAt));
    const headers: Record<string, string> = { ...this.options.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const socket = new WebSocket(url, {
      headers,
      maxPayload: this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      handshakeTimeout: HELLO_TIMEOUT_MS,
      followRedirects: false,
      perMessageDeflate: false,
    });
    this.socket = socket;
    // ws cannot pause a socket still connecting.
    socket.on('open', () => {
      if (this.paused) socket.pause();
    });
    const helloTimer = setTimeout(() => {
      if (this.socket === socket && !this.ready) socket.terminate();
    }, HELLO_TIMEOUT_MS * 2);
    this.heard = true;
    const heartbeat = setInterval(() => {
      if (this.socket !== socket || socket.readyState !== WebSocket.OPEN) return;
      // Not reading is this side's choice (flow control): the server's silence then says nothing.
      if (!this.heard && !this.paused) {
        socket.terminate();
        return;
      }
      this.heard = false;
      socket.ping();
    }, HEARTBEAT_MS);
    socket.on('pong', () => {
      this.heard = true;
    });
    socket.on('message', (data: WsData, isBinary: boolean) => {
      this.heard = true;
      if (this.socket === socket) this.receive(data, isBinary);
    });
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      if (this.socket !== socket) return;
      if (status === 401 || status === 403 || status === 404) {
        this.finish({ error: status === 404 ? 'not_found' : 'refused', message: `HTTP ${status}` }, true);
      }
      socket.terminate();
    });
    socket.on('error', (error: Error & { code?: string }) => {
      if (this.socket !== socket) return;
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.finish({ error: 'message_too_big', message: `a message over ${this.maxBytes} bytes` }, true);
      }
    });
    socket.on('close', (code: number, reason: Buffer) => {
      clearTimeout(helloTimer);
      clearInterval(heartbeat);
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      if (FINAL_CLOSE_CODES.has(code)) {
        const error = reason.toString('utf8') || `closed (${code})`;
        this.finish({ error, message: `the server closed the terminal: ${error}`, closeCode: code }, false);
      } else this.scheduleReconnect();
    });
  }

  private get maxBytes(): number {
    return this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  private receive(raw: WsData, isBinary: boolean): void {
    if (this.state === 'ended') return;
    if (isBinary) {
      const frame = decodeOutputFrame(wsBytes(raw));
      if (!frame) {
        this.malformed('an output frame shorter than its header or past 2^53');
        return;
      }
      this.output(frame.offset, frame.data);
      return;
    }
    const decoded = decodeWsServerMessage(raw);
    if (!decoded.ok) {
      this.malformed(decoded.message);
      return;
    }
    const message = decoded.message;
    switch (message.type) {
      case 'hello':
        this.onHello(message);
        return;
      case 'snapshot':
        if (message.screen_only !== true || this.awaitingSnapshot === 'screen') this.awaitingSnapshot = null;
        this.expected = message.offset;
        this.acked = message.offset;
        this.handlers.snapshot?.(message);
        return;
      case 'input_ack':
        this.inputApplied(message.seq);
        return;
      case 'size':
        this.handlers.size?.(message);
        return;
      case 'exit':
        this.handlers.exit?.(message);
        return;
      case 'error':
        this.handlers.error?.(message);
        return;
    }
  }

  private output(offset: number, bytes: Buffer): void {
    // Output before the first snapshot has no place yet (the snapshot holds it).
    if (this.expected === undefined) return;
    const end = offset + bytes.length;
    if (end <= this.expected) return;
    const fresh = offset < this.expected ? bytes.subarray(this.expected - offset) : bytes;
    const start = Math.max(offset, this.expected);
    this.expected = end;
    this.handlers.output?.(start, fresh);
    if (this.options.autoAck) this.ack(end);
  }

  private onHello(message: Msg<'hello'>): void {
    const first = !this.helloSeen;
    this.helloSeen = true;
    this.ready = true;
    this.attempts = 0;
    this.downSince = null;
    this.inputApplied(message.input_seq);
    this.lastSeq = Math.max(this.lastSeq ?? 0, message.input_seq);
    this.handlers.hello?.(message, first);
    this.setState('open');
    if (this.awaitingSnapshot === 'screen' || (this.awaitingSnapshot === 'whole' && !first)) {
      const screenOnly = this.awaitingSnapshot === 'screen';
      this.send(screenOnly ? { type: 'snapshot', screen_only: true } : { type: 'snapshot' });
    }
    if (this.resizeWanted) {
      this.send({ type: 'resize', ...this.resizeWanted });
      this.resizeWanted = null;
    }
    for (const entry of this.pending) this.send({ type: 'input', seq: entry.seq, data: entry.data });
  }

  private inputApplied(seq: number): void {
    if (seq <= this.applied) return;
    this.applied = seq;
    while (this.pending.length > 0 && this.pending[0]!.seq <= seq)
      this.pendingBytes -= this.pending.shift()!.bytes;
    this.handlers.inputAcked?.(seq);
  }

  private malformed(detail: string): void {
    this.finish({ error: 'bad_message', message: `the server sent a malformed message: ${detail}` }, true);
  }

  private send(message: WsClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private scheduleReconnect(): void {
    if (this.state === 'ended') return;
    const now = Date.now();
    this.downSince ??= now;
    const giveUpMs = this.options.giveUpMs ?? 60_000;
    if (now - this.downSince > giveUpMs) {
      this.finish(
        { error: 'unreachable', message: `no connection to ${this.options.url} for ${giveUpMs / 1000} s` },
        false,
      );
      return;
    }
    const delay =
      Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempts) * (0.75 + Math.random() / 2);
    this.attempts += 1;
    this.setState('reconnecting', `retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private setState(state: WebTerminalState, detail?: string): void {
    this.state = state;
    this.handlers.state?.(state, detail);
  }

  private finish(end: WebTerminalEnd, report: boolean): void {
    if (this.state === 'ended') return;
    clearTimeout(this.timer);
    this.setState('ended', end.message);
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    // A paused socket would not read the peer's answer to a close frame behind unread output.
    if (socket) {
      if (socket.readyState === WebSocket.OPEN && !this.paused) socket.close(1000, 'closed');
      else socket.terminate();
    }
    if (report || end.error !== 'closed') this.handlers.end?.(end);
  }
}
