/** What the HTTP layer's parts share: how to reach the daemon, and who is asking. */
import type {} from 'fastify';
import type { TowerClient } from '../../client/client.js';
import type { DaemonMessageOf } from '../../protocol/socket.js';

export type SessionEventListener = (message: DaemonMessageOf<'session_event'>) => void;

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
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook before any route runs. */
    towerRole: Role;
  }
}
