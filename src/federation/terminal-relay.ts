/**
 * /ws/terminal/PEER%2FID: a browser's (or `tower attach`'s) terminal on a peer's session, relayed by
 * this Tower over the same WebSocket to the peer, with the peer's credential (the browser never sees
 * it). The browser's client id and input seqs pass through unchanged, so the peer applies each input
 * once however often either leg reconnects.
 *
 * When the upstream leg drops (the peer's serve restarted, the network), the browser's socket stays
 * open: the upstream comes back from the next offset this relay has not delivered, and the input the
 * peer has not acknowledged goes again. Output is never queued here: the browser's ACKs are passed to
 * the peer, whose own flow control holds output back, and the upstream is not read while the browser
 * is behind (unACKed output or unsent bytes over a window), so a peer that ignores ACKs fills its own
 * buffers, not this process's memory.
 */
import { randomBytes } from 'node:crypto';
import { WebTerminalClient, type WebTerminalEnd } from '../client/web-terminal.js';
import { PEER_HEADER, splitFleetId } from '../protocol/federation.js';
import type { WsServerMessage } from '../protocol/web.js';
import { decodeWsClientFrame, encodeOutputFrame, ReadWindow, type WsData } from '../protocol/ws-terminal.js';
import type { PeerStore } from '../state/peers.js';

/** UnACKed output above which the upstream stops being read (over the peer's own 512 KiB window). */
const UNACKED_HIGH = 1024 * 1024;
/** Unsent bytes on the browser's socket above which the upstream stops being read. */
const BUFFERED_HIGH = 1024 * 1024;
/** Reading resumes once both are below this. */
const LOW = 128 * 1024;
const OPEN = 1;

const CLOSE_BAD_REQUEST = 4400;
const CLOSE_UNKNOWN_SESSION = 4404;
const CLOSE_POLICY = 1008;
const CLOSE_INTERNAL = 1011;

/** The part of a `ws` WebSocket the relay uses on the browser's side. */
export interface DownstreamSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Buffer | string, options: { binary: boolean }, callback?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: WsData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

export interface TerminalRelayOptions {
  socket: DownstreamSocket;
  peers: PeerStore;
  /** This Tower's identity fingerprint, sent to the peer. */
  fingerprint: string;
  /** PEER/ID. */
  fleetId: string;
  role: 'admin' | 'viewer';
  /** The browser's client id; a random one when it gave none. */
  clientId: string | null;
  offset: number | undefined;
}

export function relayTerminal(options: TerminalRelayOptions): void {
  new TerminalRelay(options).start();
}

class TerminalRelay {
  private upstream: WebTerminalClient | null = null;
  private closed = false;
  /** One past the last byte sent to the browser (or the snapshot it has). */
  private delivered: number | undefined;
  private acked = 0;
  private window: ReadWindow | null = null;

  constructor(private readonly options: TerminalRelayOptions) {
    this.delivered = options.offset;
    if (options.offset !== undefined) this.acked = options.offset;
    options.socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    options.socket.on('close', () => this.cleanup());
  }

  start(): void {
    const { peer, id } = splitFleetId(this.options.fleetId);
    const record = peer === null ? undefined : this.options.peers.get(peer);
    if (!record) {
      this.fail(CLOSE_UNKNOWN_SESSION, 'unknown_peer', `unknown peer: ${peer}`);
      return;
    }
    if (record.token === null) {
      this.fail(CLOSE_POLICY, 'peer_unusable', `peer ${peer} gave this Tower no credential`);
      return;
    }
    this.upstream = new WebTerminalClient(
      {
        url: record.url,
        sessionId: id,
        token: record.token,
        headers: { [PEER_HEADER]: this.options.fingerprint },
        clientId: this.options.clientId ?? randomBytes(12).toString('hex'),
        offset: this.options.offset,
      },
      {
        hello: (message, first) => {
          // Later hellos are resumptions the browser need not know about.
          if (!first) return;
          const role = this.options.role === 'viewer' || message.role === 'viewer' ? 'viewer' : 'admin';
          this.send({ ...message, role, session: { ...message.session, id: this.options.fleetId } });
        },
        snapshot: (message) => {
          this.delivered = this.acked = message.offset;
          this.send(message);
        },
        output: (offset, data) => this.forward(offset, data),
        inputAcked: (seq) => this.send({ type: 'input_ack', seq }),
        size: (message) => this.send(message),
        exit: (message) => this.send(message),
        error: (message) => this.send(message),
        end: (end) => this.upstreamEnded(peer!, end),
      },
    );
    this.window = new ReadWindow(
      { unackedHigh: UNACKED_HIGH, bufferedHigh: BUFFERED_HIGH, low: LOW },
      this.upstream,
    );
  }

  private forward(offset: number, data: Buffer): void {
    const socket = this.options.socket;
    this.delivered = offset + data.length;
    if (this.closed || socket.readyState !== OPEN) return;
    socket.send(encodeOutputFrame(offset, data), { binary: true }, this.afterSend);
    this.regulate();
  }

  private readonly afterSend = () => this.regulate();

  private regulate(): void {
    if (this.closed) return;
    this.window?.update((this.delivered ?? 0) - this.acked, this.options.socket.bufferedAmount);
  }

  private receive(raw: WsData, isBinary: boolean): void {
    if (this.closed || !this.upstream) return;
    const decoded = decodeWsClientFrame(raw, isBinary);
    if (!decoded.ok) {
      this.sendError('bad_message', decoded.message);
      return;
    }
    const message = decoded.message;
    const viewer = this.options.role !== 'admin';
    switch (message.type) {
      case 'ack':
        this.acked = Math.min(this.delivered ?? 0, Math.max(this.acked, message.offset));
        this.upstream.ack(this.acked);
        this.regulate();
        return;
      case 'snapshot':
        this.upstream.requestSnapshot(message.screen_only === true);
        return;
      case 'input':
        if (viewer) {
          this.sendError('forbidden', 'viewers cannot type');
          return;
        }
        if (!this.upstream.inputWithSeq(message.seq, message.data)) {
          this.sendError('input_full', 'too much input waiting for the peer to acknowledge it');
        }
        return;
      case 'resize':
        if (viewer) {
          this.sendError('forbidden', 'viewers cannot resize');
          return;
        }
        this.upstream.resize(message.cols, message.rows);
        return;
    }
  }

  private upstreamEnded(peer: string, end: WebTerminalEnd): void {
    if (end.closeCode === CLOSE_UNKNOWN_SESSION || end.closeCode === CLOSE_BAD_REQUEST) {
      this.fail(end.closeCode, end.error, end.message);
      return;
    }
    const code = end.error === 'refused' || end.closeCode === CLOSE_POLICY ? CLOSE_POLICY : CLOSE_INTERNAL;
    const error = end.error === 'closed' ? 'peer_closed' : `peer_${end.error.replace(/^peer_/, '')}`;
    this.fail(code, error, `peer ${peer}: ${end.message}`);
  }

  private send(message: WsServerMessage): void {
    if (!this.closed && this.options.socket.readyState === OPEN)
      this.options.socket.send(JSON.stringify(message), { binary: false }, this.afterSend);
  }

  private sendError(error: string, message: string): void {
    this.send({ type: 'error', error, message });
  }

  private fail(code: number, error: string, message: string): void {
    if (this.closed) return;
    this.sendError(error, message);
    // A close reason is at most 123 bytes.
    this.options.socket.close(code, error.slice(0, 120));
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.upstream?.close();
  }
}
