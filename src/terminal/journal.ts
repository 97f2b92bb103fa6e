/**
 * A session's output with absolute offsets: the newest bytes in memory (OutputRing), everything retained
 * on disk (SegmentLog). Appends never fail for the disk's sake: when the disk refuses bytes they stay in
 * memory, the failure is reported, writing is retried (at most once a second, back-filling from memory
 * what it still holds), and what could not be saved in time becomes a recorded gap.
 */
import fs from 'node:fs';
import { TowerError } from '../protocol/errors.js';
import { OutputRing } from './ring.js';
import { readAtAsync } from './segment-files.js';
import { type Gap, SegmentLog } from './segment-log.js';

const MiB = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const RETRY_WRITE_MS = 1000;
/** Gaps reported per session (the newest). */
const MAX_REPORTED_GAPS = 16;

export type { Gap } from './segment-log.js';

export interface JournalOptions {
  ringBytes?: number; // in-memory bytes kept, default 8 MiB
  diskCapBytes?: number; // on-disk bytes kept, default 256 MiB; oldest segments dropped first
  segmentBytes?: number; // size of one segment file, default min(16 MiB, diskCapBytes / 4)
  readOnly?: boolean; // reopen an existing log for reading only (after a daemon restart)
  /** Problems worth a line in the daemon's log (a full disk, a damaged segment). */
  warn?: (message: string) => void;
  /** Called when saving to disk stops or starts working again. */
  onHealthChange?: () => void;
  /** Called when a new segment file is started (the disk use grew by a segment: check a budget). */
  onNewSegment?: () => void;
}

export interface JournalHealth {
  /** Why output is not being saved right now; null while it is. */
  error: string | null;
  /** Output that is not on disk, or not readable there, newest last. */
  gaps: Gap[];
}

function checkSize(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}`);
  return value;
}

export class Journal {
  readonly dir: string;
  private readonly readOnly: boolean;
  private readonly log: SegmentLog;
  private readonly ring: OutputRing;
  /** Bytes kept on disk at most (the oldest segments are dropped past it). */
  readonly diskCapBytes: number;
  private endOffset: number;
  private closed = false;
  /** Set while the disk refuses writes: since which offset output is held in memory only. */
  private failure: { error: string; since: number; at: number } | null = null;
  private readonly warn: (message: string) => void;
  private readonly onHealthChange: () => void;

  private constructor(dir: string, opts: JournalOptions) {
    this.dir = dir;
    this.readOnly = opts.readOnly ?? false;
    this.warn = opts.warn ?? (() => {});
    this.onHealthChange = opts.onHealthChange ?? (() => {});
    const ringBytes = checkSize('ringBytes', opts.ringBytes ?? 8 * MiB, 0);
    const diskCapBytes = checkSize('diskCapBytes', opts.diskCapBytes ?? 256 * MiB, 1);
    this.diskCapBytes = diskCapBytes;
    const defaultSegmentBytes = Math.max(1, Math.min(16 * MiB, Math.floor(diskCapBytes / 4)));
    const segmentBytes = checkSize('segmentBytes', opts.segmentBytes ?? defaultSegmentBytes, 1);
    if (!this.readOnly) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.log = new SegmentLog(dir, { diskCapBytes, segmentBytes }, this.warn, opts.onNewSegment);
    this.endOffset = this.log.end;
    this.ring = new OutputRing(ringBytes, this.endOffset);
  }

  static open(dir: string, opts: JournalOptions = {}): Journal {
    return new Journal(dir, opts);
  }

  /** The earliest retained offset (on disk or in memory). */
  get start(): number {
    const first = this.log.first;
    return first === null ? this.ring.start : Math.min(first, this.ring.start);
  }

  get end(): number {
    return this.endOffset;
  }

  get ringStart(): number {
    return this.ring.start;
  }

  get diskBytes(): number {
    return this.log.diskBytes;
  }

  /** Segments a disk budget may drop (all but the newest). */
  get droppableSegments(): number {
    return this.log.droppable;
  }

  /** Drop the oldest segment on disk; returns the bytes freed. */
  dropOldestSegment(): number {
    return this.log.dropOldest();
  }

  health(): JournalHealth {
    const gaps = this.log.gaps().filter((gap) => gap.to > this.start);
    if (this.failure) gaps.push({ from: this.failure.since, to: this.endOffset, reason: 'not_saved' });
    const error = this.failure
      ? `${this.failure.error}: output since offset ${this.failure.since} is kept in memory only`
      : null;
    return { error, gaps: gaps.slice(-MAX_REPORTED_GAPS) };
  }

  append(data: Uint8Array): number {
    if (this.readOnly) throw new Error('journal is read-only');
    if (this.closed) throw new Error('journal is closed');
    const offset = this.endOffset;
    if (data.length === 0) return offset;
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.ring.append(bytes);
    this.endOffset += bytes.length;
    this.persist(bytes, offset);
    return offset;
  }

  readRing(from: number, maxBytes: number): Buffer | null {
    if (!Number.isSafeInteger(from) || from > this.endOffset) {
      throw new RangeError(`offset ${from} is past the end (${this.endOffset})`);
    }
    return this.ring.read(from, maxBytes);
  }

  /**
   * Up to maxBytes from `from`, from memory or disk. May return fewer (a read stops at a gap); throws a
   * GapError when `from` itself lies in a gap (see nextRetained).
   */
  read(from: number, maxBytes: number): Buffer {
    if (!Number.isSafeInteger(from) || from < this.start || from > this.endOffset) {
      throw new RangeError(`offset_not_retained: ${from} is outside [${this.start}, ${this.endOffset}]`);
    }
    if (from >= this.ring.start) return this.ring.read(from, maxBytes)!;
    const length = Math.max(0, Math.min(this.endOffset - from, maxBytes));
    return length === 0 ? EMPTY : this.log.read(from, length);
  }

  /**
   * Up to maxBytes from `from` without blocking the event loop on the disk: from memory at once, else
   * from the one segment file that holds `from`, read on libuv's thread pool into a buffer of at most
   * maxBytes. Rejects with an `offset_not_retained` TowerError when the bytes are not on disk, cannot be
   * read there (the segment is skipped from then on, as with read), or were dropped while being read.
   */
  async readAsync(from: number, maxBytes: number): Promise<Buffer> {
    if (!Number.isSafeInteger(from) || from < this.start || from > this.endOffset) {
      throw new TowerError(
        'offset_not_retained',
        `offset ${from} is outside [${this.start}, ${this.endOffset}]`,
      );
    }
    if (from >= this.ring.start) return this.ring.read(from, maxBytes)!;
    await this.log.verifyAt(from);
    const span = this.log.locate(from, Math.max(0, Math.min(this.endOffset - from, maxBytes)));
    const buffer = Buffer.allocUnsafe(span.length);
    let got: number;
    try {
      got = await readAtAsync(span.file, span.position, buffer, span.length);
    } catch (error) {
      throw this.unreadable(from, (error as Error).message);
    }
    // Shorter than recorded: truncated underneath us. Only what was read is certainly correct.
    if (got === 0 && span.length > 0) throw this.unreadable(from, 'shorter than recorded');
    return got === span.length ? buffer : buffer.subarray(0, got);
  }

  private unreadable(from: number, problem: string): TowerError {
    return (
      this.log.readFailed(from, problem) ??
      new TowerError('offset_not_retained', `output at ${from} was dropped from disk while being read`)
    );
  }

  /** The first offset at or after `from` that can be read (past any gap). */
  nextRetained(from: number): number {
    const at = Math.max(from, this.start);
    if (at >= this.ring.start) return at;
    const onDisk = this.log.readableFrom(at);
    return onDisk === null ? this.ring.start : Math.min(onDisk, this.ring.start);
  }

  /** No more appends (the program ended, or the daemon stops): seal the last segment. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.readOnly) this.log.close();
  }

  /**
   * Let go of the memory copy once the disk holds every byte (an ended session nobody looks at): reads
   * then come from disk. Output the disk refused stays in memory.
   */
  releaseMemory(): void {
    if (this.closed && !this.failure && this.log.end === this.endOffset) this.ring.release();
  }

  destroy(): void {
    this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private persist(bytes: Buffer, offset: number): void {
    if (this.failure) {
      if (Date.now() - this.failure.at < RETRY_WRITE_MS) return;
      // Back-fill what memory still holds since the failure, so a short outage leaves no gap.
      offset = Math.max(this.failure.since, this.ring.start);
      bytes = this.ring.read(offset, this.endOffset - offset)!;
    }
    const error = this.log.write(bytes, offset);
    if (error) {
      const first = this.failure === null;
      this.failure = {
        error: describeWriteError(error),
        since: this.failure?.since ?? offset,
        at: Date.now(),
      };
      if (first) {
        this.warn(`${this.dir}: cannot save output (${this.failure.error}); keeping it in memory`);
        this.onHealthChange();
      }
    } else if (this.failure) {
      const lost = offset > this.failure.since ? `; output ${this.failure.since}-${offset} was lost` : '';
      this.failure = null;
      this.warn(`${this.dir}: saving output again${lost}`);
      this.onHealthChange();
    }
  }
}

function describeWriteError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return 'the disk is full (ENOSPC)';
  if (code === 'EDQUOT') return 'the disk quota is exceeded (EDQUOT)';
  return error.message;
}
