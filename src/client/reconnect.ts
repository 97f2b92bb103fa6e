/**
 * For clients that follow the daemon over time (`tower events`, `logs --follow`, `attach`): when the
 * daemon goes away (a crash, a restart), wait for it with backoff and connect again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConnectOptions, TowerClient } from './client.js';
import { ClientError } from './errors.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2000;

/** Failures that mean "the daemon is not (yet) there"; anything else (a refused token…) is final. */
const AWAY_CODES = new Set(['daemon_not_running', 'connect_failed', 'disconnected', 'no_token']);

export function isDaemonAway(error: unknown): boolean {
  return error instanceof ClientError && AWAY_CODES.has(error.code);
}

/** Connect, retrying with backoff while the daemon is away; gives up only when `signal` aborts. */
export async function connectWhenBack(options: ConnectOptions, signal?: AbortSignal): Promise<TowerClient> {
  let delay = FIRST_DELAY_MS;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await TowerClient.connect(options);
    } catch (error) {
      if (!isDaemonAway(error)) throw error;
    }
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}

export interface FollowHooks {
  /** The connection dropped; called once per outage, before waiting. */
  away?: () => void;
  /** Connected again after an outage. */
  back?: () => void;
}

/**
 * Run `follow` on a connection; when the daemon goes away while it runs (it rejects with a
 * `disconnected` error, or resolves `undefined` after the connection closed), connect again once the
 * daemon is back and run it again; likewise when, once it has run, it finds the control plane away (a
 * restart of `tower serve`). The first connection's failure is thrown, as for any command.
 */
export async function followDaemon<T>(
  options: ConnectOptions,
  follow: (client: TowerClient) => Promise<T>,
  hooks: FollowHooks = {},
): Promise<T> {
  let client = await TowerClient.connect(options);
  let followed = false;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      const result = await follow(client);
      if (!client.disconnected) return result;
      followed = true;
      delay = FIRST_DELAY_MS;
    } catch (error) {
      // The control plane restarting: the host is there, what was followed comes back with it.
      const controlPlaneAway =
        followed && error instanceof ClientError && error.code === 'control_plane_unavailable';
      if (!controlPlaneAway && (!isDaemonAway(error) || !client.disconnected)) throw error;
    } finally {
      client.end();
    }
    hooks.away?.();
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
    client = await connectWhenBack(options);
    hooks.back?.();
  }
}
