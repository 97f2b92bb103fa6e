/**
 * One subscriber's read cursor into a session's journal.
 *
 * There is no per-subscriber queue: the subscription copies bytes from the journal
 * into its sink only while the sink accepts them. A subscriber that falls behind
 * the in-memory ring is resynced from a screen snapshot instead of replaying.
 */

import { TowerError } from '../protocol/errors.js';
import type { PtyExit } from '../terminal/pty.js';
import type { ScreenSnapshot } from '../terminal/screen.js';

/** Largest output frame handed to a sink at once. */
export const MAX_FRAME_BYTES = 256 * 1024;

export interface OutputSink {
  /** Whether the transport can take more now; a full sink is pumped again on drain. */
  ready(): boolean;
  /** Bytes starting at an absolute offset. Return false when full; call `pump()` again once drained. */
  output(offset: number, data: Buffer): boolean;
  /** The screen as of `snapshot.offset`; output continues from there. */
  snapshot(snapshot: ScreenSnapshot): boolean;
  /** The session ended and every byte up to its end was delivered. */
  closed(exit: PtyExit | null): void;
}

export interface SubscriptionSource {
  readonly journal: {
    readonly start: number;
    readonly end: number;
    readonly ringStart: number;
    readRing(from: number, maxBytes: number): Buffer | null;
    read(from: number, maxBytes: number): Buffer;
  };
  readonly ended: boolean;
  readonly exit: PtyExit | null;
  snapshot(options?: { screenOnly?: boolean }): Promise<ScreenSnapshot>;
}

export interface SubscribeStart {
  /** Resume from this offset; bytes come from disk if no longer in memory. */
  fromOffset?: number;
  /** Begin with a snapshot, then bytes from its offset. */
  snapshot?: boolean;
  /** With `snapshot`: that first snapshot holds the visible screen only (later resyncs are whole). */
  screenOnly?: boolean;
}

export class Subscription {
  private cursor: number;
  /** Reading from disk is allowed while catching up from an explicit start, not once live. */
  private catchingUp: boolean;
  private resyncing = false;
  private pumping = false;
  private done = false;

  constructor(
    private readonly source: SubscriptionSource,
    private readonly sink: OutputSink,
    start: SubscribeStart,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    const { journal } = source;
    this.cursor = journal.end;
    this.catchingUp = false;
    if (
      start.fromOffset !== undefined &&
      start.fromOffset >= journal.start &&
      start.fromOffset <= journal.end
    ) {
      this.cursor = start.fromOffset;
      this.catchingUp = true;
    } else if (start.snapshot || start.fromOffset !== undefined) {
      this.resync(start.snapshot === true && start.screenOnly === true);
      return;
    }
    this.pump();
  }

  /**
   * Deliver as much as the sink accepts. Call on new output, on drain, and on session end. Runs from
   * socket drain handlers: a failing read becomes a resync (the bytes are gone) or this subscriber's
   * error, never an exception out of the caller.
   */
  pump(): void {
    // A full sink gets nothing, not even a resync: it catches up on drain, from a snapshot if need be.
    if (this.done || this.resyncing || this.pumping || !this.sink.ready()) return;
    this.pumping = true;
    try {
      this.deliver();
    } catch (error) {
      this.done = true;
      this.onError(error);
    } finally {
      this.pumping = false;
    }
  }

  private deliver(): void {
    const { journal } = this.source;
    while (this.cursor < journal.end) {
      let data = journal.readRing(this.cursor, MAX_FRAME_BYTES);
      if (data === null) {
        if (!this.catchingUp || this.cursor < journal.start) {
          this.resync();
          return;
        }
        try {
          data = journal.read(this.cursor, MAX_FRAME_BYTES);
        } catch (error) {
          // The bytes are not on disk (never saved, damaged, unreadable): continue from a snapshot.
          if (!isGap(error)) throw error;
          this.resync();
          return;
        }
      } else {
        this.catchingUp = false;
      }
      const offset = this.cursor;
      this.cursor += data.length;
      if (!this.sink.output(offset, data)) return;
    }
    if (this.source.ended) {
      this.done = true;
      this.sink.closed(this.source.exit);
    }
  }

  close(): void {
    this.done = true;
  }

  private resync(screenOnly = false): void {
    this.resyncing = true;
    this.source.snapshot({ screenOnly }).then(
      (snapshot) => {
        if (this.done) return;
        this.cursor = snapshot.offset;
        this.catchingUp = true;
        this.resyncing = false;
        const more = this.sink.snapshot(snapshot);
        if (more) this.pump();
      },
      (error) => {
        this.resyncing = false;
        this.done = true;
        this.onError(error);
      },
    );
  }
}

function isGap(error: unknown): boolean {
  return error instanceof TowerError && error.code === 'offset_not_retained';
}
