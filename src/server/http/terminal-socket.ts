/**
 * GET /ws/terminal/:id — one browser terminal over a WebSocket.
 *
 * Each WebSocket has its own daemon connection, so the daemon's per-connection flow control
 * bounds it: when the browser falls behind (it ACKs from xterm.js's write callback), this
 * process stops reading that connection; the daemon then holds at most ~1 MiB for it and,
 * once it is read again, catches it up from its journal on disk (a snapshot only past what the
 * journal retains). Nothing here queues output, and the program never waits for a browser.
 */
import type {} from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { ClientError, type OutputEvent, type TowerClient } from '../../client/client.js';
import { type DownstreamSocket, relayTerminal } from '../../federation/terminal-relay.js';
import { splitFleetId } from '../../protocol/federation.js';
import { MAX_WS_MESSAGE_BYTES } from '../../protocol/limits.js';
import type { DaemonMessageOf, SessionInfo } from '../../protocol/socket.js';
import type { WsServerMessage } from '../../protocol/web.js';
import {
  decodeWsClientFrame,
  encodeOutputFrame,
  ReadWindow,
  type WsData,
  wsByteLength,
} from '../../protocol/ws-terminal.js';
import type { HttpContext, Role } from './context.js';
import { fromPeer } from './fleet-routes.js';
import { InputLedger, SizeOwnership, type SizePeer } from './terminal-state.js';

/** Output sent but not yet ACKed above which the daemon connection stops being read. */
export const WINDOW_HIGH = 512 * 1024;
/** Reading resumes once both the unACKed output and the WebSocket's unsent bytes are below this. */
export const WINDOW_LOW = 128 * 1024;
/** Unsent bytes in the WebSocket above which reading stops, ACKs or not. */
const BUFFERED_HIGH = 1024 * 1024;
/** Input is split so each daemon message stays under its 1 MiB line cap once base64-encoded. */
const MAX_INPUT_CHUNK = 512 * 1024;
/** Messages that arrive before the daemon connection is ready wait, up to this many and this size. */
const MAX_EARLY_MESSAGES = 256;
const MAX_EARLY_BYTES = 4 * MAX_WS_MESSAGE_BYTES;

export const CLOSE_BAD_REQUEST = 4400;
export const CLOSE_UNKNOWN_SESSION = 4404;
const CLOSE_INTERNAL = 1011;
const CLOSE_POLICY = 1008;
const OPEN = 1;

/** The part of a `ws` WebSocket this route uses. */
type BrowserSocket = DownstreamSocket;

interface TerminalQuery {
  offset?: string;
  client?: string;
}

export function registerTerminalSocket(app: FastifyInstance, ctx: HttpContext): void {
  const sizes = new SizeOwnership();
  const inputs = new InputLedger();
  // A resize from anywhere else (the CLI, REST) reaches every browser watching that session.
  const stop = ctx.onSessionEvent(({ event, session }) => {
    if (event === 'resized') sizes.resized(session.id, session.cols, session.rows);
  });
  app.addHook('onClose', async () => {
    stop();
  });
  app.get<{ Params: { id: string }; Querystring: TerminalQuery }>(
    '/ws/terminal/:id',
    {
      websocket: true,
      // Counted from before the upgrade, so past the cap the answer is a plain 503.
      preHandler: async (request) => {
        // A plain GET here is answered 404 at once and is no stream.
        if (request.ws) ctx.streams.admit(request.raw.socket);
      },
    },
    (socket: BrowserSocket, request) => {
      const id = request.params.id;
      if (splitFleetId(id).peer !== null) {
        relayOrRefuse(socket, request.query, id, request.towerRole, fromPeer(request), ctx);
        return;
      }
      const terminal = new TerminalSocket(socket, ctx, sizes, inputs, request.params.id, request.towerRole);
      terminal.open(request.query);
    },
  );
}

function relayOrRefuse(
  socket: BrowserSocket,
  query: TerminalQuery,
  fleetId: string,
  role: Role,
  fromPeer: boolean,
  ctx: HttpContext,
): void {
  const refuse = (code: number, error: string, message: string) => {
    socket.send(JSON.stringify({ type: 'error', error, message } satisfies WsServerMessage), {
      binary: false,
    });
    socket.close(code, error);
  };
  // The loop guard: what a peer asks for is answered here, never passed on to another peer.
  // (A test's route may have no federation at all.)
  const federation = ctx.federation as HttpContext['federation'] | undefined;
  if (fromPeer || !federation) {
    refuse(CLOSE_UNKNOWN_SESSION, 'unknown_session', `unknown session: ${fleetId}`);
    return;
  }
  const checked = checkQuery(query);
  if ('error' in checked) {
    refuse(CLOSE_BAD_REQUEST, 'bad_request', checked.error);
    return;
  }
  relayTerminal({
    socket,
    peers: federation.peers,
    fingerprint: federation.identity.fingerprint,
    fleetId,
    role,
    clientId: query.client ?? null,
    offset: checked.offset,
  });
}

function checkQuery(query: TerminalQuery): { offset: number | undefined } | { error: string } {
  const offset = query.offset === undefined ? undefined : Number(query.offset);
  if (offset !== undefined && !(/^\d+$/.test(query.offset ?? '') && Number.isSafeInteger(offset))) {
    return { error: 'offset must be a non-negative integer' };
  }
  if (query.client !== undefined && !/^[\x21-\x7e]{1,128}$/.test(query.client)) {
    return { error: 'client must be 1-128 printable ASCII characters' };
  }
  return { offset };
}

class TerminalSocket implements SizePeer {
  private daemon: TowerClient | null = null;
  private closed = false;
  /** Messages from the browser that arrived before the daemon connection was ready. */
  private early: Array<{ data: WsData; isBinary: boolean }> | null = [];
  private earlyBytes = 0;
  private clientId: string | null = null;
  /** Input seqs of a browser that gave no client id: exactly-once only within this socket. */
  private anonymousSeq = 0;
  /** End offset of the last output frame sent; output below it is never sent again. */
  private sent = 0;
  private acked = 0;
  private window: ReadWindow | null = null;
  /** Output is dropped until a snapshot arrives (attach, or the browser asked for one): which kind. */
  private awaiting: 'whole' | 'screen' | null = null;

  constructor(
    private readonly socket: BrowserSocket,
    private readonly ctx: HttpContext,
    private readonly sizes: SizeOwnership,
    private readonly inputs: InputLedger,
    private readonly sessionId: string,
    private readonly role: Role,
  ) {
    // Listeners go on at once: messages sent right after the upgrade must not be lost.
    socket.on('message', (data, isBinary) => {
      if (this.early === null) this.receive(data, isBinary);
      else if (this.early.length < MAX_EARLY_MESSAGES && this.earlyBytes < MAX_EARLY_BYTES) {
        this.earlyBytes += wsByteLength(data);
        this.early.push({ data, isBinary });
      } else this.fail(CLOSE_POLICY, 'too_many_messages', 'too many messages before the session was ready');
    });
    socket.on('close', () => this.cleanup());
  }

  open(query: TerminalQuery): void {
    const checked = checkQuery(query);
    if ('error' in checked) {
      this.fail(CLOSE_BAD_REQUEST, 'bad_request', checked.error);
      return;
    }
    this.clientId = query.client ?? null;
    this.start(checked.offset).catch((error: unknown) => {
      if (error instanceof ClientError && error.code === 'unknown_session')
        this.fail(CLOSE_UNKNOWN_SESSION, 'unknown_session', error.message);
      else if (error instanceof ClientError) this.fail(CLOSE_INTERNAL, error.code, error.message);
      else this.fail(CLOSE_INTERNAL, 'internal', error instanceof Error ? error.message : String(error));
    });
  }

  private async start(offset: number | undefined): Promise<void> {
    const daemon = await this.ctx.connect();
    if (this.closed) {
      daemon.end();
      return;
    }
    this.daemon = daemon;
    this.window = new ReadWindow(
      { unackedHigh: WINDOW_HIGH, bufferedHigh: BUFFERED_HIGH, low: WINDOW_LOW },
      { pause: () => daemon.pauseStream(), resume: () => daemon.resumeStream() },
    );
    daemon.on('output', (event) => this.forwardOutput(event));
    daemon.on('snapshot', (snapshot) => this.forwardSnapshot(snapshot));
    daemon.on('closed', (event) => {
      if (event.sessionId === this.sessionId)
        this.send({ type: 'exit', exit_code: event.exitCode, signal: event.signal });
    });
    daemon.on('error', (error) => this.send({ type: 'error', error: error.code, message: error.message }));
    daemon.on('disconnect', () =>
      this.fail(CLOSE_INTERNAL, 'daemon_disconnected', 'the daemon connection closed'),
    );

    const session = (await daemon.list()).find((s: SessionInfo) => s.id === this.sessionId);
    if (!session) throw new ClientError('unknown_session', `unknown session: ${this.sessionId}`);
    if (this.closed) return;
    this.send({ type: 'hello', session, role: this.role, input_seq: this.lastAppliedSeq() });
    this.sizes.join(this.sessionId, this, session.cols, session.rows);

    // Output may arrive in the same read as the subscribe reply, before the await below returns.
    if (offset === undefined) this.awaiting = 'whole';
    else this.sent = this.acked = offset;
    const subscribed = daemon.subscribe(
      this.sessionId,
      offset === undefined ? { snapshot: true } : { fromOffset: offset },
    );
    const early = this.early ?? [];
    this.early = null;
    for (const { data, isBinary } of early) this.receive(data, isBinary);
    await subscribed;
  }

  private forwardOutput(event: OutputEvent): void {
    if (event.sessionId !== this.sessionId || event.offset === undefined || this.awaiting) return;
    let { offset, data } = event;
    if (offset + data.length <= this.sent) return;
    if (offset < this.sent) {
      data = data.subarray(this.sent - offset);
      offset = this.sent;
    }
    const frame = encodeOutputFrame(offset, data);
    this.sent = offset + data.length;
    if (this.socket.readyState !== OPEN) return;
    this.socket.send(frame, { binary: true }, this.afterSend);
    this.regulate();
  }

  private forwardSnapshot(snapshot: DaemonMessageOf<'snapshot'>): void {
    if (snapshot.session_id !== this.sessionId) return;
    this.awaiting = null;
    this.sent = this.acked = snapshot.offset;
    const { session_id: _session, req_id: _request, ...screen } = snapshot;
    this.send(screen);
  }

  private readonly afterSend = () => this.regulate();

  /** Stop reading the daemon while the browser is behind; resume once it has mostly caught up. */
  private regulate(): void {
    if (this.closed) return;
    this.window?.update(this.sent - this.acked, this.socket.bufferedAmount);
  }

  private receive(raw: WsData, isBinary: boolean): void {
    if (this.closed) return;
    const decoded = decodeWsClientFrame(raw, isBinary);
    if (!decoded.ok) {
      this.sendError('bad_message', decoded.message);
      return;
    }
    const message = decoded.message;
    switch (message.type) {
      case 'ack':
        this.acked = Math.min(this.sent, Math.max(this.acked, message.offset));
        this.regulate();
        return;
      case 'snapshot':
        this.resubscribe(message.screen_only === true);
        return;
      case 'input':
        if (this.role !== 'admin') this.sendError('forbidden', 'viewers cannot type');
        else this.input(message.seq, message.data);
        return;
      case 'resize':
        if (this.role !== 'admin') this.sendError('forbidden', 'viewers cannot resize');
        else this.resize(message.cols, message.rows);
        return;
    }
  }

  private input(seq: number, data: string): void {
    if (seq > this.lastAppliedSeq()) {
      if (this.clientId === null) this.anonymousSeq = seq;
      else this.inputs.record(this.sessionId, this.clientId, seq);
      const bytes = Buffer.from(data, 'utf8');
      for (let start = 0; start < bytes.length; start += MAX_INPUT_CHUNK)
        this.daemon?.input(this.sessionId, bytes.subarray(start, start + MAX_INPUT_CHUNK));
      this.sizes.claimByInput(this.sessionId, this);
    }
    this.send({ type: 'input_ack', seq });
  }

  private resize(cols: number, rows: number): void {
    this.sizes.claimBySize(this.sessionId, this, cols, rows);
    // Through the shared connection: this socket's own may be paused behind unread output.
    this.ctx.client
      .resize(this.sessionId, cols, rows)
      .catch((error: unknown) =>
        this.sendError(
          error instanceof ClientError ? error.code : 'internal',
          error instanceof Error ? error.message : String(error),
        ),
      );
  }

  /**
   * A fresh snapshot by subscribing again: the daemon ends the old subscription and starts the new
   * one with a snapshot, then bytes from its offset, so no byte is missed or repeated in between.
   * The browser has reset its terminal, so output still in flight before the snapshot is dropped
   * and counts as ACKed. `screenOnly`: the visible screen without scrollback, for a browser that
   * replays older output before painting it. While one is on its way, asking again changes nothing,
   * except that a screen-only request is not lost to a whole snapshot on its way: the browser waits
   * for exactly that one (and takes a screen-only one where it asked for a whole one).
   */
  private resubscribe(screenOnly: boolean): void {
    if (this.awaiting && !(screenOnly && this.awaiting === 'whole')) return;
    this.awaiting = screenOnly ? 'screen' : 'whole';
    this.acked = this.sent;
    this.daemon
      ?.subscribe(this.sessionId, { snapshot: true, screenOnly })
      .catch((error: unknown) =>
        this.sendError(
          error instanceof ClientError ? error.code : 'internal',
          error instanceof Error ? error.message : String(error),
        ),
      );
    this.regulate();
  }

  sendSize(cols: number, rows: number, owner: boolean): void {
    this.send({ type: 'size', cols, rows, owner });
  }

  private lastAppliedSeq(): number {
    return this.clientId === null
      ? this.anonymousSeq
      : this.inputs.lastApplied(this.sessionId, this.clientId);
  }

  private send(message: WsServerMessage): void {
    if (!this.closed && this.socket.readyState === OPEN)
      this.socket.send(JSON.stringify(message), { binary: false }, this.afterSend);
  }

  private sendError(error: string, message: string): void {
    this.send({ type: 'error', error, message });
  }

  private fail(code: number, error: string, message: string): void {
    if (this.closed) return;
    this.sendError(error, message);
    this.socket.close(code, error);
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.early = null;
    this.sizes.leave(this.sessionId, this);
    this.daemon?.end();
  }
}
