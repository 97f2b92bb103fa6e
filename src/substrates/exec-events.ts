/**
 * The output of a running command as an ordered, bounded stream of events, the one contract of every
 * substrate's exec: past STREAM_HIGH_WATER bytes not yet taken by the consumer the command's streams
 * are paused (the command then blocks writing), and resumed when the consumer is down to
 * STREAM_LOW_WATER.
 */
import type { ExecEvent } from './types.js';

const STREAM_HIGH_WATER = 256 * 1024;
const STREAM_LOW_WATER = 64 * 1024;

interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

export class ExecEvents {
  private readonly queue: ExecEvent[] = [];
  private queued = 0;
  private paused = false;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(private readonly streams: Pausable[]) {}

  /** A listener for one of the command's output streams. */
  take(type: 'stdout' | 'stderr'): (data: Buffer) => void {
    return (data) => {
      this.queue.push({ type, data });
      this.queued += data.length;
      if (this.queued >= STREAM_HIGH_WATER && !this.paused) {
        this.paused = true;
        for (const stream of this.streams) stream.pause();
      }
      this.notify();
    };
  }

  exited(event: Extract<ExecEvent, { type: 'exit' }>): void {
    this.queue.push(event);
    this.notify();
  }

  /** The command could not run: the stream throws this where it has got to. */
  failed(error: Error): void {
    this.failure = error;
    this.notify();
  }

  /** Every event in order, up to and including the exit. */
  async *events(): AsyncGenerator<ExecEvent> {
    for (;;) {
      if (this.failure) throw this.failure;
      const event = this.queue.shift();
      if (!event) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      if (event.type !== 'exit') {
        this.queued -= event.data.length;
        if (this.paused && this.queued <= STREAM_LOW_WATER) {
          this.paused = false;
          for (const stream of this.streams) stream.resume();
        }
      }
      yield event;
      if (event.type === 'exit') return;
    }
  }

  private notify(): void {
    this.wake?.();
    this.wake = null;
  }
}
