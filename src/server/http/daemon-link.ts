/**
 * The HTTP layer's link to the daemon: one shared connection for requests and for watching what
 * changes (re-established if it drops), and fresh connections for output streams.
 */
import { TowerClient } from '../../client/client.js';
import type { FederationContext, HttpContext, SessionEventListener, WorkspaceWatcher } from './context.js';
import { retryLater } from './errors.js';
import { DEFAULT_MAX_STREAMS, StreamLimit } from './streams.js';

const RECONNECT_DELAY_MS = 500;

export interface LinkOptions {
  stateDir: string;
  socketPath: string;
  /** Open SSE and WebSocket streams at most. */
  maxStreams?: number;
  federation: FederationContext;
}

/**
 * One shared daemon connection, replaced if it drops, that also watches sessions, attention and
 * prompts for every listener; and fresh connections for output streams.
 */
export async function linkToDaemon(options: LinkOptions): Promise<{ context: HttpContext; end(): void }> {
  const connect = () => TowerClient.connect({ stateDir: options.stateDir, socketPath: options.socketPath });
  const sessionListeners = new Set<SessionEventListener>();
  const workspaceWatchers = new Set<WorkspaceWatcher>();
  let shared = await connect();
  let ended = false;
  /** The shared connection is up and watching. */
  let watching = false;
  const keep = (client: TowerClient) => {
    client.on('session_event', (message) => {
      for (const listener of sessionListeners) listener(message);
      for (const watcher of workspaceWatchers)
        watcher.event({ event: message.event, session: message.session });
    });
    client.on('attention', (attention) => {
      for (const watcher of workspaceWatchers) watcher.event({ event: 'attention', attention });
    });
    client.on('prompt', (prompt) => {
      for (const watcher of workspaceWatchers) watcher.event({ event: 'prompt', prompt });
    });
    // Changes made while a replacement connection was being made are not replayed: the size owners
    // only need the latest size, which the next change brings, and /api/events streams were ended
    // (their browsers reconnect and read the state again).
    const watched = Promise.all([client.watch(), client.watchAttention()]).then(
      () => {
        watching = !ended;
      },
      () => {},
    );
    client.once('disconnect', () => {
      watching = false;
      for (const watcher of [...workspaceWatchers]) watcher.lost();
      if (ended) return;
      const retry = () => {
        if (ended) return;
        connect().then(
          (fresh) => {
            if (ended) {
              fresh.end();
              return;
            }
            shared = fresh;
            keep(fresh);
          },
          () => setTimeout(retry, RECONNECT_DELAY_MS),
        );
      };
      retry();
    });
    return watched;
  };
  await keep(shared);
  return {
    context: {
      get client() {
        return shared;
      },
      connect,
      onSessionEvent: (listener) => {
        sessionListeners.add(listener);
        return () => sessionListeners.delete(listener);
      },
      watchWorkspace: (watcher) => {
        if (!watching)
          throw retryLater(
            503,
            'disconnected',
            'the connection to the Tower daemon is being re-established',
            1000,
          );
        workspaceWatchers.add(watcher);
        return () => workspaceWatchers.delete(watcher);
      },
      streams: new StreamLimit(options.maxStreams ?? DEFAULT_MAX_STREAMS),
      federation: options.federation,
    },
    end: () => {
      ended = true;
      shared.end();
    },
  };
}
