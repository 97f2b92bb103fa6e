/**
 * A session's output on disk: segment files named by the absolute offset of their first byte
 * (`0000000000001000.seg`), each sealed with a checksum file (`….sum`: size and CRC-32) once complete.
 *
 * Segments need not be contiguous: output that could not be written (a full disk) leaves a hole between
 * two segments, and the hole is what records the loss. A sealed segment whose checksum no longer matches
 * is reported as damaged and never served.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { describeGap, type Gap, GapError, type GapReason } from './gaps.js';
import { checksumOf, checksumOfAsync, readAt, readSum } from './segment-files.js';

export { describeGap, type Gap, GapError, type GapReason } from './gaps.js';

const SEGMENT_FILE = /^(\d{16})\.seg$/;

interface Segment {
  start: number;
  size: number;
  /** Written when the segment was sealed; null for the segment being written (or cut short by a crash). */
  sum: { size: number; crc: number } | null;
  state: 'unchecked' | 'good' | 'damaged' | 'unreadable';
  problem?: string;
  /** A checksum being computed off the event loop (verifyAt), shared by readers that wait for it. */
  verifying?: Promise<void>;
}

export function segmentFileName(start: number): string {
  return String(start).padStart(16, '0') + '.seg';
}

export class SegmentLog {
  private readonly segments: Segment[] = [];
  private fd: number | null = null;
  /** CRC-32 of the segment being written, so far. */
  private crc = 0;
  private bytesOnDisk = 0;

  constructor(
    readonly dir: string,
    private readonly limits: { diskCapBytes: number; segmentBytes: number },
    private readonly warn: (message: string) => void,
    private readonly onNewSegment: () => void = () => {},
  ) {
    this.scan();
  }

  /** First offset on disk, or null when nothing is. */
  get first(): number | null {
    return this.segments[0]?.start ?? null;
  }

  /** One past the last byte on disk (0 when empty). */
  get end(): number {
    const last = this.segments[this.segments.length - 1];
    return last ? last.start + last.size : 0;
  }

  get diskBytes(): number {
    return this.bytesOnDisk;
  }

  /** Segments that could be dropped to save space: all but the newest (being written, or the last screen). */
  get droppable(): number {
    return Math.max(0, this.segments.length - 1);
  }

  /**
   * Write bytes beginning at `offset` (at or past `end`: past it leaves a hole). Returns the error when
   * the disk refused them; nothing partial is kept, so every later offset stays exact.
   */
  write(bytes: Buffer, offset: number): Error | null {
    try {
      let current = this.segments[this.segments.length - 1];
      const contiguous = this.fd !== null && current !== undefined && current.start + current.size === offset;
      if (!contiguous || (current!.size > 0 && current!.size + bytes.length > this.limits.segmentBytes)) {
        this.seal();
        current = this.openSegment(offset);
      }
      this.writeAll(current!, bytes);
      this.enforceCap();
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  /** Bytes from `from` (which must lie on disk), stopping at a hole or at a damaged segment. */
  read(from: number, length: number): Buffer {
    let index = this.indexAt(from);
    const first = index === -1 ? undefined : this.segments[index];
    if (!first) throw new GapError({ from, to: this.nextStart(from), reason: 'not_saved' });
    this.check(first);
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    let segment: Segment | undefined = first;
    while (segment && filled < length) {
      const position = from + filled - segment.start;
      const wanted = Math.min(segment.size - position, length - filled);
      let got: number;
      try {
        got = readAt(this.pathOf(segment.start), position, out, filled, wanted);
      } catch (error) {
        segment.state = 'unreadable';
        segment.problem = (error as Error).message;
        if (filled > 0) break;
        throw new GapError(this.gapOf(segment));
      }
      filled += got;
      // Shorter than recorded (truncated underneath us): return only what is certainly correct.
      if (got < wanted) break;
      const next = this.segments[++index];
      if (!next || next.start !== segment.start + segment.size || !this.usable(next)) break;
      segment = next;
    }
    if (filled === 0 && length > 0) throw new GapError({ ...this.gapOf(first), reason: 'unreadable' });
    return filled === length ? out : out.subarray(0, filled);
  }

  /**
   * Where the bytes from `from` lie, for a reader that reads the file itself (off the event loop): the
   * file of the one segment that holds `from`, the position in it and how many of `length` bytes it holds
   * from there. Throws a GapError when `from` is not on disk or its segment cannot be served.
   */
  locate(from: number, length: number): { file: string; position: number; length: number } {
    const index = this.indexAt(from);
    const segment = index === -1 ? undefined : this.segments[index];
    if (!segment) throw new GapError({ from, to: this.nextStart(from), reason: 'not_saved' });
    this.check(segment);
    const position = from - segment.start;
    return { file: this.pathOf(segment.start), position, length: Math.min(length, segment.size - position) };
  }

  /**
   * A located read failed or came back short: the segment holding `from` is unreadable from here on.
   * Returns the error for the reader, or null when that segment is no longer kept (dropped meanwhile).
   */
  readFailed(from: number, problem: string): GapError | null {
    const segment = this.segments[this.indexAt(from)];
    if (!segment) return null;
    segment.state = 'unreadable';
    segment.problem = problem;
    return new GapError(this.gapOf(segment));
  }

  /** The first offset at or after `from` that can be read from disk; null when none. */
  readableFrom(from: number): number | null {
    for (const segment of this.segments) {
      if (segment.start + segment.size <= from || segment.size === 0) continue;
      if (segment.state === 'damaged' || segment.state === 'unreadable') continue;
      return Math.max(from, segment.start);
    }
    return null;
  }

  /** Holes between segments and segments found damaged or unreadable, oldest first. */
  gaps(): Gap[] {
    const gaps: Gap[] = [];
    let previous: Segment | undefined;
    for (const segment of this.segments) {
      if (previous && previous.start + previous.size < segment.start) {
        gaps.push({ from: previous.start + previous.size, to: segment.start, reason: 'not_saved' });
      }
      if (segment.state === 'damaged' || segment.state === 'unreadable') gaps.push(this.gapOf(segment));
      previous = segment;
    }
    return gaps;
  }

  /** Remove the oldest segment unless it is the newest; returns the bytes freed (0: none left). */
  dropOldest(): number {
    if (this.droppable === 0) return 0;
    const oldest = this.segments.shift()!;
    this.bytesOnDisk -= oldest.size;
    for (const file of [this.pathOf(oldest.start), this.sumPathOf(oldest.start)]) {
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // The bytes are already accounted as gone; a file we could not delete is not worth failing for.
      }
    }
    return oldest.size;
  }

  /** Seal the segment being written: close it and record its checksum. */
  close(): void {
    this.seal();
  }

  private writeAll(segment: Segment, bytes: Buffer): void {
    const fd = this.fd!;
    try {
      let written = fs.writeSync(fd, bytes);
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written);
    } catch (error) {
      // A torn write would shift every later offset: cut the segment back to its last consistent size,
      // and start the next write in a new segment (the bytes in between become a hole).
      try {
        fs.ftruncateSync(fd, segment.size);
      } catch {
        // The original error is the one worth reporting.
      }
      this.abandonSegment(segment);
      throw error;
    }
    this.crc = crc32(bytes, this.crc);
    segment.size += bytes.length;
    this.bytesOnDisk += bytes.length;
  }

  /** After a failed write: stop writing this segment; forget it if nothing made it to disk. */
  private abandonSegment(segment: Segment): void {
    this.seal();
    if (segment.size === 0) {
      this.segments.pop();
      fs.rmSync(this.pathOf(segment.start), { force: true });
      fs.rmSync(this.sumPathOf(segment.start), { force: true });
    }
  }

  private openSegment(start: number): Segment {
    const fd = fs.openSync(this.pathOf(start), 'a', 0o600);
    this.fd = fd;
    this.crc = 0;
    const segment: Segment = { start, size: 0, sum: null, state: 'good' };
    this.segments.push(segment);
    this.onNewSegment();
    return segment;
  }

  private seal(): void {
    if (this.fd === null) return;
    const segment = this.segments[this.segments.length - 1]!;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed underneath us: nothing more can be written to it anyway.
    }
    this.fd = null;
    if (segment.size === 0) return;
    segment.sum = { size: segment.size, crc: this.crc };
    // Written aside and renamed, so a full disk or a crash never leaves a torn checksum behind.
    const file = this.sumPathOf(segment.start);
    const temporary = `${file}.tmp`;
    try {
      fs.writeFileSync(temporary, `${segment.size} ${this.crc}\n`, { mode: 0o600 });
      fs.renameSync(temporary, file);
    } catch {
      fs.rmSync(temporary, { force: true });
      // Without its checksum file the segment is still served, only unverified.
    }
  }

  private enforceCap(): void {
    while (this.bytesOnDisk > this.limits.diskCapBytes && this.droppable > 0) this.dropOldest();
  }

  /** Throws unless the segment can be served; verifies a sealed one's checksum the first time. */
  private check(segment: Segment): void {
    if (segment.state === 'unchecked') this.verify(segment);
    if (segment.state !== 'good') throw new GapError(this.gapOf(segment));
  }

  private verify(segment: Segment): void {
    if (!segment.sum) {
      segment.state = 'good';
      return;
    }
    try {
      this.judge(segment, checksumOf(this.pathOf(segment.start)));
    } catch (error) {
      this.judge(segment, error as Error);
    }
  }

  /**
   * For a reader that must not block: verify the checksum of the segment holding `from`, if it has not
   * been, reading the file off the event loop a chunk at a time. Never rejects; locate() then serves the
   * segment or refuses it.
   */
  async verifyAt(from: number): Promise<void> {
    const segment = this.segments[this.indexAt(from)];
    if (segment?.state !== 'unchecked' || !segment.sum) return;
    segment.verifying ??= checksumOfAsync(this.pathOf(segment.start)).then(
      (actual) => this.judge(segment, actual),
      (error: Error) => this.judge(segment, error),
    );
    await segment.verifying;
  }

  /** A sealed segment's checksum (or the error computing it) decides whether it is served. */
  private judge(segment: Segment, actual: { size: number; crc: number } | Error): void {
    if (segment.state !== 'unchecked' || !segment.sum) return;
    if (actual instanceof Error) {
      segment.state = 'unreadable';
      segment.problem = actual.message;
    } else if (actual.size === segment.sum.size && actual.crc === segment.sum.crc) {
      segment.state = 'good';
    } else {
      segment.state = 'damaged';
      segment.problem =
        actual.size === segment.sum.size
          ? `${segmentFileName(segment.start)} does not match its checksum`
          : `${segmentFileName(segment.start)} is ${actual.size} bytes, sealed at ${segment.sum.size}`;
      this.warn(`${this.dir}: ${describeGap(this.gapOf(segment), segment.problem)}`);
    }
  }

  private usable(segment: Segment): boolean {
    try {
      this.check(segment);
      return true;
    } catch {
      return false;
    }
  }

  private gapOf(segment: Segment): Gap {
    const reason: GapReason = segment.state === 'damaged' ? 'damaged' : 'unreadable';
    return { from: segment.start, to: segment.start + segment.size, reason };
  }

  /** Index of the segment holding `offset`, or -1. */
  private indexAt(offset: number): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.start <= offset) return offset < segment.start + segment.size ? i : -1;
    }
    return -1;
  }

  private nextStart(offset: number): number {
    return this.segments.find((segment) => segment.start > offset)?.start ?? this.end;
  }

  private pathOf(start: number): string {
    return path.join(this.dir, segmentFileName(start));
  }

  private sumPathOf(start: number): string {
    return `${this.pathOf(start).slice(0, -4)}.sum`;
  }

  private scan(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const match = SEGMENT_FILE.exec(name);
      if (!match) continue;
      const start = Number(match[1]);
      let stats: fs.Stats;
      try {
        stats = fs.statSync(path.join(this.dir, name));
      } catch {
        continue;
      }
      const sum = readSum(this.sumPathOf(start));
      const regular = stats.isFile();
      // Something other than a file in a segment's place is never opened for reading.
      const size = regular ? stats.size : (sum?.size ?? 0);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(start + size)) {
        this.warn(`${this.dir}: ignoring ${name}: its offset is beyond 2^53`);
        continue;
      }
      // An empty segment holds nothing; the next write there reuses the file.
      if (size === 0) continue;
      if (!regular) {
        this.segments.push({
          start,
          size,
          sum,
          state: 'unreadable',
          problem: `${name} is not a regular file`,
        });
        continue;
      }
      this.segments.push({ start, size, sum, state: 'unchecked' });
    }
    this.segments.sort((a, b) => a.start - b.start);
    for (let i = 0; i + 1 < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const next = this.segments[i + 1]!;
      if (segment.start + segment.size > next.start) {
        segment.state = 'damaged';
        segment.problem = `${segmentFileName(segment.start)} overlaps ${segmentFileName(next.start)}`;
      }
    }
    this.bytesOnDisk = this.segments.reduce((sum, segment) => sum + segment.size, 0);
  }
}
