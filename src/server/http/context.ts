/** What the HTTP layer's parts share: how to reach the daemon, and who is asking. */
import type {} from 'fastify';
import type { TowerClient } from '../../client/client.js';
import type { FoundPeer } from '../../protocol/federation.js';
import type { DaemonMessageOf } from '../../protocol/socket.js';
import type { WorkspaceEvent } from '../../protocol/web.js';
import type { Identity } from '../../state/identity.js';
import type { PeerStore } from '../../state/peers.js';
import type { StreamLimit } from './streams.js';

export type SessionEventListener = (message: DaemonMessageOf<'session_event'>) => void;

export interface WorkspaceWatcher {
  event(event: WorkspaceEvent): void;
  /** The shared daemon connection dropped: changes are missed until it is back. */
  lost(): void;
}

/** admin: full control; viewer: may watch (GET, WebSocket output) but not type, resize or kill. */
export type Role = 'admin' | 'viewer';

export interface HttpContext {
  /** One shared daemon connection for request/response calls. */
  readonly client: TowerClient;
  /** A new authenticated daemon connection, for one stream (WebSocket or SSE): each stream gets
   *  the daemon's own per-connection flow control. The caller ends it. */
  connect(): Promise<TowerClient>;
  /** Session changes (created, exited, resized…) as the daemon reports them, once each, across
   *  reconnections of the shared connection. Returns a function that stops listening. */
  onSessionEvent(listener: SessionEventListener): () => void;
  /** Everything GET /api/events reports (sessions, attention, prompts), from the shared connection:
   *  one daemon watch for any number of streams. Throws a 503 while that connection is down.
   *  Returns a function that stops watching. */
  watchWorkspace(watcher: WorkspaceWatcher): () => void;
  /** Open SSE responses and WebSockets, bounded (tower serve --max-streams). */
  readonly streams: StreamLimit;
  readonly federation: FederationContext;
}

/** What this Tower is to its peers, and whom it trusts. */
export interface FederationContext {
  readonly identity: Identity;
  readonly peers: PeerStore;
  /** Sessions of one runtime dispatch may start on one machine (tower serve --dispatch-limit). */
  readonly dispatchLimit: number;
  /** Towers discovery found (mDNS, Tailscale, static), this one left out: found, not trusted; a
   *  peer list shows those not paired as `unpaired`. */
  discovered(): FoundPeer[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook before any route runs. */
    towerRole: Role;
    /** The peer Tower whose token this request carries (null: the owner's own token or cookie). */
    towerPeer: string | null;
  }
}
