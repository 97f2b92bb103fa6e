/**
 * A bound on disk reads in flight: subscribers catching up from disk take turns, so however many fall
 * behind at once, the daemon holds at most `limit` chunks being read and leaves the rest of libuv's
 * thread pool free. Each waiter is one subscriber's one pending read, so the queue is bounded too.
 */
export class ReadSlots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Runs `task` once a slot is free (at once if one is), and frees the slot when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, if any.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Chunks being read from disk at once, daemon-wide (subscribers and screens catching up): this many frames of memory at most. */
export const DISK_READS = new ReadSlots(2);
