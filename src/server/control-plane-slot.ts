/**
 * The host's side of its control plane: which connection it is, the relay channels (one per client
 * connection that asked something only the control plane answers), and the notices it needs for agent
 * status. With no control plane attached, relayed requests fail at once with control_plane_unavailable.
 */
import type { DaemonMessage, InbandSignal, SessionNoticeKind } from '../protocol/index.js';
import { INBAND_SIGNAL_PROTOCOL, reqIdOf, TowerError } from '../protocol/index.js';
import type { Session } from '../sessions/session.js';
import { SignalGate } from './signal-gate.js';

/** At most one `output` notice per session this often: the control plane only needs to know it moved. */
const OUTPUT_NOTICE_MS = 50;

/** What the slot needs of a connection: SocketConnection. */
export interface RelayEndpoint {
  send(message: DaemonMessage): boolean;
  sendRaw(line: string): boolean;
  /** The control plane went away with this client's stream open: end it so the client reconnects. */
  drop(): void;
}

interface Channel {
  endpoint: RelayEndpoint;
  /** req_ids relayed and not answered yet, answered with an error if the control plane goes. */
  pending: Set<string | number>;
  streaming: boolean;
}

export class ControlPlaneSlot {
  private controlPlane: RelayEndpoint | null = null;
  /** The attached control plane reads `signal` notices (its protocol is recent enough). */
  private takesSignals = false;
  private readonly signals = new SignalGate();
  private nextChannel = 1;
  private readonly channels = new Map<number, Channel>();
  private readonly channelOf = new Map<RelayEndpoint, number>();
  private readonly noticeTimers = new Map<string, { timer: NodeJS.Timeout; again: boolean }>();

  /** `lost`: sessions found lost at the host's start, told to the first control plane that attaches. */
  constructor(private lost: string[]) {}

  get attached(): boolean {
    return this.controlPlane !== null;
  }

  isControlPlane(endpoint: RelayEndpoint): boolean {
    return endpoint === this.controlPlane;
  }

  /** Returns the lost sessions not yet told. */
  attach(endpoint: RelayEndpoint, protocol: number): string[] {
    if (this.controlPlane && this.controlPlane !== endpoint) {
      throw new TowerError(
        'control_plane_attached',
        'another control plane is attached to this session host (is tower serve already running?)',
      );
    }
    this.controlPlane = endpoint;
    this.takesSignals = protocol >= INBAND_SIGNAL_PROTOCOL;
    const lost = this.lost;
    this.lost = [];
    return lost;
  }

  /** Hand a client's request to the control plane. */
  relay(endpoint: RelayEndpoint, line: string, reqId: string | number | undefined, type: string): void {
    const controlPlane = this.controlPlane;
    if (!controlPlane) {
      throw new TowerError(
        'control_plane_unavailable',
        `${type} needs Tower's control plane, which is not running; start it with: tower serve`,
      );
    }
    let id = this.channelOf.get(endpoint);
    if (id === undefined) {
      id = this.nextChannel++;
      this.channelOf.set(endpoint, id);
      this.channels.set(id, { endpoint, pending: new Set(), streaming: false });
    }
    const channel = this.channels.get(id)!;
    if (reqId !== undefined) channel.pending.add(reqId);
    if (type === 'watch_attention') channel.streaming = true;
    controlPlane.send({ type: 'relay_request', channel: id, line });
  }

  /** The control plane's answer on a channel. */
  reply(channelId: number, line: string): void {
    const channel = this.channels.get(channelId);
    if (!channel) return;
    const reqId = replyReqId(line);
    if (reqId !== undefined) channel.pending.delete(reqId);
    channel.endpoint.sendRaw(line);
  }

  /** A connection closed: a client's channel ends; the control plane's leaves the slot empty. */
  closed(endpoint: RelayEndpoint): void {
    if (endpoint === this.controlPlane) {
      this.controlPlane = null;
      for (const [id, channel] of this.channels) {
        for (const reqId of channel.pending) {
          channel.endpoint.send({
            type: 'error',
            code: 'control_plane_unavailable',
            message: 'the control plane stopped before answering; try again once tower serve runs',
            req_id: reqId,
          });
        }
        if (channel.streaming) channel.endpoint.drop();
        this.channels.delete(id);
      }
      this.channelOf.clear();
      return;
    }
    const id = this.channelOf.get(endpoint);
    if (id === undefined) return;
    this.channelOf.delete(endpoint);
    this.channels.delete(id);
    this.controlPlane?.send({ type: 'relay_closed', channel: id });
  }

  /** Tell the control plane (never about its own doing). */
  notice(
    from: RelayEndpoint | null,
    sessionId: string,
    kind: SessionNoticeKind,
    data?: Buffer,
    signal?: InbandSignal,
  ): void {
    const controlPlane = this.controlPlane;
    if (!controlPlane || from === controlPlane) return;
    controlPlane.send({
      type: 'session_notice',
      session_id: sessionId,
      kind,
      ...(data ? { data: data.toString('base64') } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * Every session's output, as `output` notices at most every OUTPUT_NOTICE_MS, and the status signals
   * its agent wrote in-band, as `signal` notices (bounded by the SignalGate).
   */
  watchSession(session: Session): void {
    const id = session.id;
    session.on('signal', (body) => {
      if (!this.controlPlane || !this.takesSignals) return;
      const signal = this.signals.admit(id, body);
      if (signal) this.notice(null, id, 'signal', undefined, signal);
    });
    session.once('exit', () => this.signals.forget(id));
    session.on('output', () => {
      if (!this.controlPlane) return;
      const pending = this.noticeTimers.get(id);
      if (pending) {
        pending.again = true;
        return;
      }
      this.notice(null, id, 'output');
      const entry = { again: false, timer: setTimeout(() => this.noticeDue(id), OUTPUT_NOTICE_MS) };
      this.noticeTimers.set(id, entry);
    });
  }

  private noticeDue(id: string): void {
    const entry = this.noticeTimers.get(id);
    this.noticeTimers.delete(id);
    if (entry?.again) this.notice(null, id, 'output');
  }

  close(): void {
    for (const { timer } of this.noticeTimers.values()) clearTimeout(timer);
    this.noticeTimers.clear();
  }
}

function replyReqId(line: string): string | number | undefined {
  try {
    return reqIdOf(JSON.parse(line));
  } catch {
    return undefined;
  }
}
