/**
 * A connection's lines, handled in arrival order, that can be held back: while a wrong token's answer
 * waits (see AuthThrottle), the lines after it wait too and the socket is not read, so a pipelined
 * guess gains nothing; and while a program starts, so a pipelined request finds its session. Held
 * lines are at most what one read brought.
 */
import type { Socket } from 'node:net';
import type { LineEvent } from '../protocol/ndjson.js';

export class LineGate {
  private held: LineEvent[] | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly handle: (event: LineEvent) => void,
  ) {}

  push(event: LineEvent): void {
    if (this.held) this.held.push(event);
    else this.handle(event);
  }

  hold(): void {
    this.held ??= [];
    this.socket.pause();
  }

  /** Holds the lines after this one until `work` is done (it answers its own errors). */
  holdUntil(work: Promise<void>): Promise<void> {
    this.hold();
    return work.finally(() => this.release());
  }

  /** Handles the held lines in order, until one of them holds the gate again. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    while (held.length > 0 && this.socket.writable) {
      this.handle(held.shift()!);
      const again = this.held as LineEvent[] | null;
      if (again !== null) {
        again.unshift(...held);
        return;
      }
    }
    this.socket.resume();
  }
}
