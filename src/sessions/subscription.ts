/**
 * One subscriber's read cursor into a session's journal.
 *
 * There is no per-subscriber queue: the subscription copies bytes from the journal into its sink only
 * while the sink accepts them. A subscriber behind the in-memory ring catches up from the journal on
 * disk, one chunk at a time read off the event loop, so it gets every byte; only one behind what the
 * journal retains (or that asked for a snapshot) is resynced from a screen snapshot.
 */

import { TowerError } from '../protocol/errors.js';
import type { PtyExit } from '../terminal/pty.js';
import type { ScreenSnapshot } from '../terminal/screen.js';
import { DISK_READS } from './read-slots.js';

/** Largest output frame handed to a sink at once (and largest chunk read from disk). */
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
    readRing(from: number, maxBytes: number): Buffer | null;
    readAsync(from: number, maxBytes: number): Promise<Buffer>;
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
  private resyncing = false;
  /** A chunk is being read from disk for this subscriber: one at a time. */
  private reading = false;
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
    if (
      start.fromOffset !== undefined &&
      start.fromOffset >= journal.start &&
      start.fromOffset <= journal.end
    ) {
      this.cursor = start.fromOffset;
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
    if (this.done || this.resyncing || this.reading || !this.sink.ready()) return;
    this.step(() => this.deliver());
  }

  close(): void {
    this.done = true;
  }

  private step(work: () => void): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      work();
    } catch (error) {
      this.fail(error);
    } finally {
      this.pumping = false;
    }
  }

  private deliver(): void {
    const { journal } = this.source;
    while (this.cursor < journal.end) {
      const data = journal.readRing(this.cursor, MAX_FRAME_BYTES);
      if (data === null) {
        // Behind the ring: from disk while the journal still holds the bytes, else from a snapshot.
        if (this.cursor < journal.start) this.resync();
        else this.readDisk();
        return;
      }
      if (!this.send(data)) return;
    }
    if (this.source.ended) {
      this.done = true;
      this.sink.closed(this.source.exit);
    }
  }

  private send(data: Buffer): boolean {
    const offset = this.cursor;
    this.cursor += data.length;
    return this.sink.output(offset, data);
  }

  /**
   * One chunk from disk, read off the event loop; then on from there (the next chunk, or the ring). The
   * event loop runs between chunks, and the sink is asked again before each: a sink that filled up
   * meanwhile gets nothing, and the chunk is read again once it drains.
   */
  private readDisk(): void {
    this.reading = true;
    const from = this.cursor;
    DISK_READS.run(async () =>
      this.done ? null : this.source.journal.readAsync(from, MAX_FRAME_BYTES),
    ).then(
      (data) => {
        this.reading = false;
        if (data === null || this.done || from !== this.cursor || !this.sink.ready()) return;
        this.step(() => {
          if (data.length === 0) this.resync();
          else if (this.send(data)) this.deliver();
        });
      },
      (error: unknown) => {
        this.reading = false;
        if (this.done) return;
        // Dropped from disk meanwhile, or not readable there (a gap, a damaged or removed segment):
        // continue from a snapshot once the sink can take it. Anything else is this subscriber's error.
        if (this.cursor < this.source.journal.start || isGap(error)) {
          if (this.sink.ready()) this.resync();
        } else this.fail(error);
      },
    );
  }

  private fail(error: unknown): void {
    this.done = true;
    this.onError(error);
  }

  private resync(screenOnly = false): void {
    this.resyncing = true;
    this.source.snapshot({ screenOnly }).then(
      (snapshot) => {
        if (this.done) return;
        // A screen that lagged past what the journal keeps: the bytes after it are gone. Ask again
        // (each snapshot waits for the screen to catch up a while).
        if (snapshot.offset < this.source.journal.start) {
          this.resyncing = false;
          this.resync(screenOnly);
          return;
        }
        this.cursor = snapshot.offset;
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
