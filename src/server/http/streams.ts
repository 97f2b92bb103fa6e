/**
 * Open streams (SSE responses and WebSockets), counted against a cap: each holds a connection, buffers
 * and, for output, a daemon connection of its own, so their number must be bounded. Past the cap a new
 * stream gets a clear 503 with Retry-After, and REST goes on working.
 */
import { retryLater } from './errors.js';

export const DEFAULT_MAX_STREAMS = 128;
const RETRY_AFTER_MS = 5_000;

/** What a stream lives on: its response, or a WebSocket's TCP socket. */
interface Closable {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
}

export class StreamLimit {
  private open = 0;

  constructor(readonly max: number) {}

  /** Counts a stream until `on` closes; throws a 503 `too_many_streams` when `max` are open. */
  admit(on: Closable): void {
    if (on.destroyed) return;
    if (this.open >= this.max) {
      throw retryLater(
        503,
        'too_many_streams',
        `too many open streams: ${this.max} are open (tower serve --max-streams); close some or try again later`,
        RETRY_AFTER_MS,
      );
    }
    this.open += 1;
    on.once('close', () => {
      this.open -= 1;
    });
  }
}
