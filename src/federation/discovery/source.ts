/**
 * A discovery source: what it found last, and why its last look failed. Sources that look now and
 * then (Tailscale, the static list) share PeriodicSource: one look at a time, each bounded in time,
 * its result cut to MAX_FOUND; a failed look keeps nothing stale and says why.
 */
import type { DiscoverySource, FoundPeer } from '../../protocol/federation.js';

/** Found Towers kept per source: a network full of hostile records costs this much and no more. */
export const MAX_FOUND = 64;

export interface Source {
  readonly source: DiscoverySource;
  list(): FoundPeer[];
  readonly error: string | null;
  close(): Promise<void>;
}

export interface PeriodicOptions {
  intervalMs: number;
  /** A look that takes longer is abandoned and counted as failed. */
  timeoutMs: number;
}

export class PeriodicSource implements Source {
  private found: FoundPeer[] = [];
  private problem: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    readonly source: DiscoverySource,
    private readonly look: (signal: AbortSignal) => Promise<{ found: FoundPeer[]; error: string | null }>,
    private readonly options: PeriodicOptions,
  ) {}

  get error(): string | null {
    return this.problem;
  }

  list(): FoundPeer[] {
    return this.found;
  }

  /** Look now (resolves when done), then every interval. */
  start(): Promise<void> {
    return this.refresh();
  }

  /** One look; a call while one runs waits for that one. */
  refresh(): Promise<void> {
    this.running ??= this.lookOnce().finally(() => {
      this.running = null;
      if (!this.closed) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.refresh(), this.options.intervalMs);
        this.timer.unref();
      }
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  private async lookOnce(): Promise<void> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const result = await Promise.race([
        this.look(signal),
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () =>
            reject(new Error(`no answer within ${this.options.timeoutMs} ms`)),
          ),
        ),
      ]);
      this.found = result.found.slice(0, MAX_FOUND);
      this.problem = result.error;
    } catch (error) {
      this.found = [];
      this.problem = (error as Error).message.slice(0, 500);
    }
  }
}
