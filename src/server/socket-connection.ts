/**
 * One client on the Unix socket: NDJSON framing, auth first, then requests.
 * Bad input gets an `error` and never takes the connection's sessions or the daemon down.
 */
import type { Socket } from 'node:net';
import {
  AGENT_REQUEST_TYPES,
  CLIENT_MESSAGE_TYPES,
  ClientMessage,
  CONTROL_PLANE_REQUEST_TYPES,
  type DaemonMessage,
  MAX_LINE_BYTES,
  reqIdOf,
  TowerError,
} from '../protocol/index.js';
import { type LineEvent, LineSplitter } from '../protocol/ndjson.js';
import { describeParseError } from '../protocol/validation.js';
import type { SessionManager } from '../sessions/manager.js';
import type { Session } from '../sessions/session.js';
import type { Subscription } from '../sessions/subscription.js';
import { AttemptRefused, type AuthThrottle } from '../state/auth-throttle.js';
import { tokensEqual } from '../state/token.js';
import type { ControlPlaneSlot, RelayEndpoint } from './control-plane-slot.js';
import { type HostRequests, STARTS_PROGRAM } from './host-requests.js';
import { LineGate } from './line-gate.js';
import { outputChunk } from './output-chunk.js';
import { closedMessage, snapshotMessage, subscriptionSink } from './socket-messages.js';
import { SocketWriter } from './socket-writer.js';

const MAX_AUTH_FAILURES = 3;
const AUTH_TIMEOUT_MS = 30_000;
const DEFAULT_READ_BYTES = 256 * 1024;
/** Every socket peer is local and anonymous: one throttle source for them all. */
const SOCKET_SOURCE = 'socket';

type Request = ClientMessage;
type RequestOf<T extends Request['type']> = Extract<Request, { type: T }>;

export class SocketConnection implements RelayEndpoint {
  private authenticated = false;
  private authFailures = 0;
  private readonly subscriptions = new Map<string, { session: Session; subscription: Subscription }>();
  private readonly splitter = new LineSplitter(MAX_LINE_BYTES);
  private readonly authTimer: NodeJS.Timeout;
  private readonly lines: LineGate;
  private readonly out: SocketWriter;
  /** Set while this connection watches session changes. */
  private stopWatching: (() => void) | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly manager: SessionManager,
    private readonly slot: ControlPlaneSlot,
    private readonly host: HostRequests,
    private readonly currentToken: () => string,
    private readonly throttle: AuthThrottle,
  ) {
    this.out = new SocketWriter(socket);
    this.lines = new LineGate(socket, (event) => this.handleEvent(event));
    this.authTimer = setTimeout(() => {
      if (!this.authenticated) this.fail('not_authenticated', 'no auth message received in time', true);
    }, AUTH_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.pumpAll());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.cleanup());
  }

  private receive(chunk: Buffer): void {
    for (const event of this.splitter.push(chunk)) {
      this.lines.push(event);
      if (this.socket.destroyed) return;
    }
  }

  private handleEvent(event: LineEvent): void {
    if ('tooLong' in event) {
      this.send({
        type: 'error',
        code: 'too_large',
        message: `message too large: over ${MAX_LINE_BYTES} bytes without a newline; skipped`,
      });
    } else {
      this.handleLine(event.line);
    }
  }

  private handleLine(line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.send({
        type: 'error',
        code: 'bad_json',
        message: 'malformed JSON: each line must be one JSON object',
      });
      return;
    }
    const reqId = reqIdOf(raw);
    const type = raw !== null && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !(CLIENT_MESSAGE_TYPES as string[]).includes(type)) {
      const what =
        typeof type === 'string' ? `unknown message type: ${type}` : 'message has no string "type"';
      this.send({ type: 'error', code: 'bad_message', message: what, req_id: reqId });
      return;
    }
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) {
      this.send({
        type: 'error',
        code: 'bad_message',
        message: describeParseError(type, parsed.error),
        req_id: reqId,
      });
      return;
    }
    const request = parsed.data;
    if (request.type === 'auth') {
      this.authenticate(request);
      return;
    }
    if (!this.authenticated) {
      this.send({
        type: 'error',
        code: 'not_authenticated',
        message: 'not authenticated: the first message must be {"type":"auth","token":...}',
        req_id: reqId,
      });
      return;
    }
    const sessionId = 'session_id' in request ? request.session_id : undefined;
    if (CONTROL_PLANE_REQUEST_TYPES.has(request.type) && !this.slot.isControlPlane(this)) {
      this.send({
        type: 'error',
        code: 'not_control_plane',
        message: `${request.type} is for the attached control plane only`,
        req_id: reqId,
      });
      return;
    }
    if (this.forControlPlane(request)) {
      try {
        this.slot.relay(this, line, reqId, request.type);
      } catch (error) {
        this.replyError(error, reqId, sessionId);
      }
      return;
    }
    // Requests are handled in arrival order and answered at once where they can be, so a client
    // without req_id can match errors to requests by order. Only close, snapshot, screen and the
    // agent requests that may read the screen (prompts, dispatch) wait.
    try {
      this.dispatch(request)?.catch((error: unknown) => this.replyError(error, request.req_id, sessionId));
    } catch (error) {
      this.replyError(error, request.req_id, sessionId);
    }
  }

  private authenticate(request: RequestOf<'auth'>): void {
    try {
      this.throttle.admit(SOCKET_SOURCE);
    } catch (error) {
      if (!(error instanceof AttemptRefused)) throw error;
      this.send({ type: 'error', code: 'too_many_attempts', message: error.message, req_id: request.req_id });
      this.socket.end();
      return;
    }
    if (tokensEqual(request.token, this.currentToken())) {
      this.authenticated = true;
      clearTimeout(this.authTimer);
      this.send({ type: 'auth_result', ok: true, req_id: request.req_id });
      return;
    }
    this.authFailures += 1;
    this.lines.hold();
    this.throttle.failed(SOCKET_SOURCE).then(() => {
      this.send({ type: 'auth_result', ok: false, req_id: request.req_id });
      const closing = this.authFailures >= MAX_AUTH_FAILURES;
      this.fail('auth_failed', closing ? 'wrong token; too many failures, closing' : 'wrong token', closing);
      this.lines.release();
    });
  }

  /**
   * Agent requests, a spawn that needs a runtime resolved (a runtime named, or no program given: the
   * shell runtime), and a bootstrap that names runtimes, are the control plane's. With none attached, a plain spawn is the host's own.
   */
  private forControlPlane(request: Request): boolean {
    if (AGENT_REQUEST_TYPES.has(request.type)) return true;
    // Only the control plane knows what a runtime needs: it asks again with them resolved.
    if (request.type === 'bootstrap_substrate') return (request.runtimes?.length ?? 0) > 0 && !request.needs;
    if (request.type !== 'create_session') return false;
    return request.runtime !== undefined || (request.shell === undefined && this.slot.attached);
  }

  private dispatch(request: Request): Promise<void> | undefined {
    const { manager } = this;
    const reqId = request.req_id;
    switch (request.type) {
      case 'write_input': {
        const data = Buffer.from(request.data, 'base64');
        manager.get(request.session_id).write(data);
        // The control plane keeps a prompt from being typed over a draft, in any session.
        this.slot.notice(this, request.session_id, 'typed', data);
        if (reqId !== undefined) this.out.sendSoon({ type: 'ack', req_id: reqId });
        return;
      }
      case 'resize':
        manager.resize(request.session_id, request.cols, request.rows);
        this.ack(reqId);
        return;
      case 'subscribe':
        this.subscribe(request);
        return;
      case 'unsubscribe':
        this.unsubscribe(manager.get(request.session_id).id);
        this.ack(reqId);
        return;
      case 'close_session':
        return this.closeSession(request);
      case 'list_sessions':
        this.send({ type: 'session_list', sessions: manager.list(), req_id: reqId });
        return;
      case 'ping':
        this.send({ type: 'pong', req_id: reqId });
        return;
      case 'get_snapshot':
        return manager
          .get(request.session_id)
          .snapshot()
          .then((snapshot) => {
            this.send(snapshotMessage(request.session_id, snapshot, reqId));
          });
      case 'read_screen':
        return manager
          .get(request.session_id)
          .text()
          .then((screen) => {
            this.send({
              type: 'screen_text',
              session_id: request.session_id,
              offset: screen.offset,
              cols: screen.cols,
              rows: screen.rows,
              cursor_x: screen.cursorX,
              cursor_y: screen.cursorY,
              text: screen.text,
              bracketed_paste: screen.bracketedPaste,
              req_id: reqId,
            });
          });
      case 'read_output':
        this.readOutput(request);
        return;
      case 'remove_session':
        this.unsubscribe(request.session_id);
        manager.remove(request.session_id);
        this.send({ type: 'session_removed', session_id: request.session_id, req_id: reqId });
        return;
      case 'rename_session':
        manager.rename(request.session_id, request.name);
        this.ack(reqId);
        return;
      case 'watch_sessions':
        this.stopWatching ??= this.host.sessionEvents.add((event, session) =>
          this.send({ type: 'session_event', event, session }),
        );
        this.ack(reqId);
        return;
      case 'auth':
        return;
      default: {
        const answer = this.host.handle(request, this);
        if (!answer || !STARTS_PROGRAM.has(request.type)) return answer;
        // A program takes its substrate a moment: later lines wait, so a pipelined subscribe finds it.
        const answered = answer.catch((error: unknown) => this.replyError(error, reqId, undefined));
        return this.lines.holdUntil(answered);
      }
    }
  }

  /** A subscriber hears of the end through its subscription, after the last output; others get a reply. */
  private async closeSession(request: RequestOf<'close_session'>): Promise<void> {
    const session = this.manager.get(request.session_id);
    const subscribed = this.subscriptions.has(session.id);
    this.slot.notice(this, session.id, 'closing');
    await this.manager.close(session.id);
    if (subscribed) {
      this.ack(request.req_id);
      return;
    }
    this.send(closedMessage(session.id, session.exit, request.req_id));
  }

  private subscribe(request: RequestOf<'subscribe'>): void {
    const session = this.manager.get(request.session_id);
    this.unsubscribe(session.id);
    this.ack(request.req_id);
    const sessionId = session.id;
    const sink = subscriptionSink(this.out, sessionId, request, () => {
      this.subscriptions.delete(sessionId);
      queueMicrotask(() => session.unsubscribe(entry.subscription));
    });
    const entry = { session, subscription: undefined as unknown as Subscription };
    this.subscriptions.set(sessionId, entry);
    entry.subscription = session.subscribe(
      sink,
      { fromOffset: request.from_offset, snapshot: request.snapshot, screenOnly: request.screen_only },
      (error) => this.replyError(error, undefined, sessionId),
    );
  }

  private unsubscribe(sessionId: string): void {
    const entry = this.subscriptions.get(sessionId);
    if (!entry) return;
    this.subscriptions.delete(sessionId);
    entry.session.unsubscribe(entry.subscription);
  }

  private readOutput(request: RequestOf<'read_output'>): void {
    const { journal } = this.manager.get(request.session_id);
    this.send(outputChunk(journal, request, DEFAULT_READ_BYTES));
  }

  private ack(reqId: Request['req_id']): void {
    if (reqId !== undefined) this.send({ type: 'ack', req_id: reqId });
  }

  private replyError(error: unknown, reqId: Request['req_id'], sessionId: string | undefined): void {
    if (error instanceof TowerError) {
      this.send({
        type: 'error',
        code: error.code,
        message: error.message,
        session_id: sessionId,
        req_id: reqId,
      });
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.send({
      type: 'error',
      code: 'internal',
      message: `internal error: ${message}`,
      session_id: sessionId,
      req_id: reqId,
    });
  }

  private fail(code: 'auth_failed' | 'not_authenticated', message: string, close: boolean): void {
    this.send({ type: 'error', code, message });
    if (close) this.socket.end();
  }

  send(message: DaemonMessage): boolean {
    return this.out.send(message);
  }

  sendRaw(line: string): boolean {
    return this.out.sendRaw(line);
  }

  drop(): void {
    this.socket.destroy();
  }

  private pumpAll(): void {
    for (const { subscription } of this.subscriptions.values()) subscription.pump();
  }

  private cleanup(): void {
    clearTimeout(this.authTimer);
    this.stopWatching?.();
    this.slot.closed(this);
    for (const sessionId of [...this.subscriptions.keys()]) this.unsubscribe(sessionId);
  }
}
