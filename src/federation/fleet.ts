/**
 * The fleet: every peer of PeerStore, asked for its sessions with a per-peer timeout. What each last
 * answered is kept (state, round-trip time, version, its sessions as `PEER/ID`), so a peer that stops
 * answering still shows what it held, marked stale, and one that is down costs a list nothing.
 */
import { type TowerHttpClient, TowerHttpError } from '../client/http-client.js';
import { API } from '../protocol/api.js';
import {
  type FleetSession,
  type FoundPeer,
  fleetId,
  type PeerInfo,
  type PeerScope,
  type PeerState,
  type PeerStatus,
} from '../protocol/federation.js';
import type { SessionInfo } from '../protocol/socket.js';
import type { Identity } from '../state/identity.js';
import type { PeerRecord, PeerStore } from '../state/peers.js';
import { mergeDiscovered } from './fleet-discovered.js';
import { peerClient } from './peer-client.js';

/** A peer that does not answer its list within this is offline for now. */
export const PEER_TIMEOUT_MS = 1500;
/** A peer's session list, at most: a hostile peer's flood is cut off here. */
export const PEER_LIST_MAX_BYTES = 4 * 1024 * 1024;

export interface FleetOptions {
  peers: PeerStore;
  /** Loaded on first use: a Tower without peers never needs its identity. */
  identity: () => Pick<Identity, 'fingerprint'>;
  timeoutMs?: number;
  maxReplyBytes?: number;
  /** Towers that discovery found (paired or not); unpaired ones are listed as such. */
  discovered?: () => FoundPeer[];
}

interface PeerView {
  url: string;
  state: PeerState | null;
  rttMs: number | null;
  version: string | null;
  fingerprint: string | null;
  scope: PeerScope | null;
  lastSeen: string | null;
  error: string | null;
  /** Its last ask ran out of time: the next lists do not wait for it. */
  timedOut: boolean;
  /** The sessions of its last good answer, ids already `PEER/ID`. */
  sessions: FleetSession[];
  polling: Promise<void> | null;
}

export class Fleet {
  private readonly views = new Map<string, PeerView>();
  private readonly timeoutMs: number;
  private readonly maxReplyBytes: number;

  constructor(private readonly options: FleetOptions) {
    this.timeoutMs = options.timeoutMs ?? PEER_TIMEOUT_MS;
    this.maxReplyBytes = options.maxReplyBytes ?? PEER_LIST_MAX_BYTES;
  }

  /**
   * The peer's web API with the credential it gave this Tower; unknown_peer when there is no such peer.
   * A peer whose last list timed out gets no more than the list's timeout here either.
   */
  client(name: string, options: { timeoutMs?: number; maxReplyBytes?: number } = {}): TowerHttpClient {
    const record = this.options.peers.get(name);
    if (!record) throw new TowerHttpError(404, 'unknown_peer', `unknown peer: ${name}`);
    if (record.token === null) throw noCredential(name);
    const hanging = this.views.get(name)?.timedOut === true;
    const timeoutMs = hanging
      ? Math.min(options.timeoutMs ?? this.timeoutMs, this.timeoutMs)
      : options.timeoutMs;
    return peerClient(this.options.identity(), record, { ...options, timeoutMs });
  }

  /** Every known peer, each asked afresh (those already down are not waited for). */
  async peers(): Promise<PeerInfo[]> {
    const records = this.records();
    await this.refresh(records);
    const known = records.map((record) => this.info(record));
    return mergeDiscovered(known, this.options.discovered?.() ?? []);
  }

  /** The sessions of every peer (or of `only`), each asked afresh, the unreachable ones as last known. */
  async sessions(only?: string): Promise<{ sessions: FleetSession[]; peers: PeerStatus[] }> {
    let records = this.records();
    if (only !== undefined) {
      records = records.filter((record) => record.name === only);
      if (records.length === 0) throw new TowerHttpError(404, 'unknown_peer', `unknown peer: ${only}`);
    }
    await this.refresh(records);
    const sessions: FleetSession[] = [];
    const peers: PeerStatus[] = [];
    for (const record of records) {
      const view = this.view(record);
      sessions.push(...view.sessions);
      peers.push({
        name: record.name,
        state: view.state ?? 'offline',
        stale: view.state !== 'online' && view.sessions.length > 0,
        error: view.error,
      });
    }
    return { sessions, peers };
  }

  /** The peers by name, so lists come in the same order whatever order peers.json has. */
  private records(): PeerRecord[] {
    return [...this.options.peers.all()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Ask every peer, all at once. A peer whose last ask timed out is asked in the background only, so
   * a hanging peer costs a list its timeout once, not every time.
   */
  private async refresh(records: PeerRecord[]): Promise<void> {
    for (const name of this.views.keys()) if (!this.options.peers.get(name)) this.views.delete(name);
    const waits: Promise<void>[] = [];
    for (const record of records) {
      const view = this.view(record);
      const hanging = view.timedOut;
      view.polling ??= this.poll(record, view).finally(() => {
        view.polling = null;
      });
      if (!hanging) waits.push(view.polling);
    }
    await Promise.all(waits);
  }

  private view(record: PeerRecord): PeerView {
    let view = this.views.get(record.name);
    if (!view || view.url !== record.url) {
      view = {
        url: record.url,
        state: null,
        rttMs: null,
        version: null,
        fingerprint: record.fingerprint,
        scope: null,
        lastSeen: null,
        error: null,
        timedOut: false,
        sessions: [],
        polling: null,
      };
      this.views.set(record.name, view);
    }
    return view;
  }

  private async poll(record: PeerRecord, view: PeerView): Promise<void> {
    if (record.token === null) {
      Object.assign(view, { state: 'refused', error: noCredential(record.name).message });
      return;
    }
    const client = this.client(record.name, { timeoutMs: this.timeoutMs, maxReplyBytes: this.maxReplyBytes });
    const started = performance.now();
    try {
      const reply = await client.call(API.listSessions, { query: { scope: 'local' } });
      const claimed = reply.tower?.fingerprint;
      if (record.fingerprint !== null && claimed !== undefined && claimed !== record.fingerprint) {
        throw new TowerHttpError(
          403,
          'wrong_identity',
          `the Tower at ${record.url} is ${claimed}, not the paired ${record.fingerprint}`,
        );
      }
      view.rttMs = Math.round(performance.now() - started);
      view.state = 'online';
      view.error = null;
      view.timedOut = false;
      view.lastSeen = new Date().toISOString();
      view.version = reply.tower?.version ?? null;
      view.fingerprint = record.fingerprint ?? claimed ?? null;
      view.scope = reply.tower?.scope ?? null;
      view.sessions = reply.sessions.map((session) => asPeerSession(record.name, session));
    } catch (error) {
      const failure =
        error instanceof TowerHttpError ? error : new TowerHttpError(502, 'bad_reply', String(error));
      view.state = failure.status === 401 || failure.status === 403 ? 'refused' : 'offline';
      // A peer that refuses this Tower (revoked it, or is not the one paired) keeps nothing listed.
      if (view.state === 'refused') view.sessions = [];
      view.error = `${failure.code}: ${failure.message}`.slice(0, 500);
      view.timedOut = failure.code === 'timeout';
    }
  }

  private info(record: PeerRecord): PeerInfo {
    const view = this.view(record);
    return {
      name: record.name,
      url: record.url,
      found_by: [record.added_by],
      state: view.state ?? 'offline',
      rtt_ms: view.state === 'online' ? view.rttMs : null,
      version: view.version,
      fingerprint: view.fingerprint,
      scope: view.scope,
      last_seen: view.lastSeen,
      error: view.error,
    };
  }
}

/** A peer's own session as this Tower lists it: the id (and the one it was restarted from) prefixed. */
export function asPeerSession(peer: string, session: SessionInfo): FleetSession {
  const { peer: _theirs, ...own } = session as FleetSession;
  return {
    ...own,
    id: fleetId(peer, session.id),
    resumed_from: session.resumed_from === null ? null : fleetId(peer, session.resumed_from),
    peer,
  };
}

function noCredential(name: string): TowerHttpError {
  return new TowerHttpError(403, 'no_credential', `${name} gave this Tower no credential`);
}
