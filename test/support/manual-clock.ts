/**
 * A clock that moves only when a test moves it. `advance` fires each timer due on the way at its own
 * time, in order, and after each lets what it started finish (`settle`: a screen read, echoed output)
 * before the next, so a test of quiet times and retries runs in milliseconds and always the same way.
 */
import type { Clock, ClockTimer } from '../../dist/state/clock.js';

interface Pending {
  at: number;
  order: number;
  callback: () => void;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ManualClock implements Clock {
  private time = Date.UTC(2025, 0, 1);
  private order = 0;
  private readonly timers = new Map<ClockTimer, Pending>();
  /** Waits for the work a timer started; the default waits one turn of the event loop. */
  settle: () => Promise<void> = nextTurn;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer: ClockTimer = { unref: () => timer };
    this.timers.set(timer, { at: this.time + Math.max(0, ms), order: this.order++, callback });
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer) this.timers.delete(timer);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Milliseconds until the next timer is due, or null when none is set. */
  get nextTimerIn(): number | null {
    const next = this.next(Number.POSITIVE_INFINITY);
    return next ? next[1].at - this.time : null;
  }

  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await this.settle();
    for (let next = this.next(target); next; next = this.next(target)) {
      const [timer, pending] = next;
      this.timers.delete(timer);
      this.time = pending.at;
      pending.callback();
      await this.settle();
    }
    this.time = target;
  }

  private next(until: number): [ClockTimer, Pending] | null {
    let first: [ClockTimer, Pending] | null = null;
    for (const entry of this.timers) {
      const [, pending] = entry;
      if (pending.at > until) continue;
      if (
        !first ||
        pending.at < first[1].at ||
        (pending.at === first[1].at && pending.order < first[1].order)
      )
        first = entry;
    }
    return first;
  }
}
