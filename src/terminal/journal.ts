import fs from 'node:fs';
import path from 'node:path';

const MiB = 1024 * 1024;
const SEGMENT_FILE = /^(\d{16})\.seg$/;
/**
 * Appends smaller than this are copied into a shared slab instead of becoming ring entries of their own:
 * an interactive session emits many tiny chunks, and one Buffer object per keystroke echo would cost far
 * more memory than the bytes themselves.
 */
const SMALL_APPEND_BYTES = 4096;
const SLAB_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export interface JournalOptions {
  ringBytes?: number; // in-memory bytes kept, default 8 MiB
  diskCapBytes?: number; // on-disk bytes kept, default 256 MiB; oldest segments dropped first
  segmentBytes?: number; // size of one segment file, default min(16 MiB, diskCapBytes / 4)
  readOnly?: boolean; // reopen an existing log for reading only (after a daemon restart)
}

interface Segment {
  start: number;
  size: number;
}

function segmentFileName(start: number): string {
  return String(start).padStart(16, '0') + '.seg';
}

function checkSize(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}`);
  return value;
}

/** Segments found in dir, oldest first, plus those cut off from the newest by a gap (unusable). */
function scanSegments(dir: string): { segments: Segment[]; orphans: Segment[] } {
  if (!fs.existsSync(dir)) return { segments: [], orphans: [] };
  const found: Segment[] = [];
  for (const name of fs.readdirSync(dir)) {
    const match = SEGMENT_FILE.exec(name);
    if (match) found.push({ start: Number(match[1]), size: fs.statSync(path.join(dir, name)).size });
  }
  found.sort((a, b) => a.start - b.start);
  // Offsets are only meaningful in a contiguous run ending at the newest segment (end is derived from it).
  let firstContiguous = Math.max(0, found.length - 1);
  while (firstContiguous > 0) {
    const prev = found[firstContiguous - 1]!;
    if (prev.start + prev.size !== found[firstContiguous]!.start) break;
    firstContiguous--;
  }
  return { segments: found.slice(firstContiguous), orphans: found.slice(0, firstContiguous) };
}

/** Binary search over ascending starts in [low, high]: the last index whose start is <= offset. */
function lastAtOrBelow(
  offset: number,
  low: number,
  high: number,
  startAt: (index: number) => number,
): number {
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (startAt(mid) <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** Reads up to `length` bytes at `position` of file into target[at..]; returns how many were read. */
function readAt(file: string, position: number, target: Buffer, at: number, length: number): number {
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const got = fs.readSync(fd, target, at + done, length - done, position + done);
      if (got === 0) break;
      done += got;
    }
    return done;
  } finally {
    fs.closeSync(fd);
  }
}

export class Journal {
  readonly dir: string;
  private readonly ringBytes: number;
  private readonly diskCapBytes: number;
  private readonly segmentBytes: number;
  private readonly readOnly: boolean;

  private readonly segments: Segment[];
  private diskBytes: number;
  private endOffset: number;
  private writeFd: number | null = null;

  // Chunk i holds [ringStarts[i], ringStarts[i] + ringChunks[i].length); entries below ringHead are evicted
  // and compacted away lazily so eviction stays O(1) amortized.
  private ringChunks: Buffer[] = [];
  private ringStarts: number[] = [];
  private ringHead = 0;
  private ringSize = 0;
  private slab: Buffer | null = null;
  private slabUsed = 0;

  private constructor(dir: string, opts: JournalOptions) {
    this.dir = dir;
    this.readOnly = opts.readOnly ?? false;
    this.ringBytes = checkSize('ringBytes', opts.ringBytes ?? 8 * MiB, 0);
    this.diskCapBytes = checkSize('diskCapBytes', opts.diskCapBytes ?? 256 * MiB, 1);
    const defaultSegmentBytes = Math.max(1, Math.min(16 * MiB, Math.floor(this.diskCapBytes / 4)));
    this.segmentBytes = checkSize('segmentBytes', opts.segmentBytes ?? defaultSegmentBytes, 1);

    if (!this.readOnly) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { segments, orphans } = scanSegments(dir);
    this.segments = segments;
    this.diskBytes = segments.reduce((sum, segment) => sum + segment.size, 0);
    const last = segments[segments.length - 1];
    this.endOffset = last ? last.start + last.size : 0;
    if (this.readOnly) return;

    for (const orphan of orphans) fs.rmSync(this.segmentPath(orphan.start), { force: true });
    if (last) {
      this.writeFd = fs.openSync(this.segmentPath(last.start), 'a', 0o600);
    } else {
      this.openNewSegment();
    }
    this.enforceDiskCap();
  }

  static open(dir: string, opts: JournalOptions = {}): Journal {
    return new Journal(dir, opts);
  }

  get start(): number {
    return this.segments[0]?.start ?? this.endOffset;
  }

  get end(): number {
    return this.endOffset;
  }

  get ringStart(): number {
    return this.ringHead < this.ringStarts.length ? this.ringStarts[this.ringHead]! : this.endOffset;
  }

  append(data: Uint8Array): number {
    if (this.writeFd === null) throw new Error(this.readOnly ? 'journal is read-only' : 'journal is closed');
    const offset = this.endOffset;
    if (data.length === 0) return offset;
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.writeToDisk(bytes);
    this.endOffset += bytes.length;
    this.addToRing(bytes, offset);
    this.enforceDiskCap();
    return offset;
  }

  readRing(from: number, maxBytes: number): Buffer | null {
    if (!Number.isSafeInteger(from) || from > this.endOffset) {
      throw new RangeError(`offset ${from} is past the end (${this.endOffset})`);
    }
    if (from < this.ringStart) return null;
    const length = Math.max(0, Math.min(this.endOffset - from, maxBytes));
    if (length === 0) return EMPTY;

    let index = lastAtOrBelow(from, this.ringHead, this.ringStarts.length - 1, (i) => this.ringStarts[i]!);
    const first = this.ringChunks[index]!;
    const firstOffset = from - this.ringStarts[index]!;
    if (firstOffset + length <= first.length) return first.subarray(firstOffset, firstOffset + length);

    const pieces = [first.subarray(firstOffset)];
    let collected = first.length - firstOffset;
    while (collected < length) {
      const chunk = this.ringChunks[++index]!;
      const take = Math.min(chunk.length, length - collected);
      pieces.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      collected += take;
    }
    return Buffer.concat(pieces, length);
  }

  read(from: number, maxBytes: number): Buffer {
    if (!Number.isSafeInteger(from) || from < this.start || from > this.endOffset) {
      throw new RangeError(`offset_not_retained: ${from} is outside [${this.start}, ${this.endOffset}]`);
    }
    if (from >= this.ringStart) return this.readRing(from, maxBytes)!;
    const length = Math.max(0, Math.min(this.endOffset - from, maxBytes));
    return length === 0 ? EMPTY : this.readDisk(from, length);
  }

  close(): void {
    if (this.writeFd !== null) fs.closeSync(this.writeFd);
    this.writeFd = null;
  }

  destroy(): void {
    this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private segmentPath(start: number): string {
    return path.join(this.dir, segmentFileName(start));
  }

  private openNewSegment(): void {
    const fd = fs.openSync(this.segmentPath(this.endOffset), 'a', 0o600);
    if (this.writeFd !== null) fs.closeSync(this.writeFd);
    this.writeFd = fd;
    this.segments.push({ start: this.endOffset, size: 0 });
  }

  private writeToDisk(bytes: Buffer): void {
    let current = this.segments[this.segments.length - 1]!;
    if (current.size > 0 && current.size + bytes.length > this.segmentBytes) {
      this.openNewSegment();
      current = this.segments[this.segments.length - 1]!;
    }
    const fd = this.writeFd!;
    try {
      let written = fs.writeSync(fd, bytes);
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written);
    } catch (error) {
      // A torn write would shift every later offset; cut the segment back to its last consistent size.
      try {
        fs.ftruncateSync(fd, current.size);
      } catch {
        // Nothing better to do; the original error is the one worth reporting.
      }
      throw error;
    }
    current.size += bytes.length;
    this.diskBytes += bytes.length;
  }

  private enforceDiskCap(): void {
    while (this.diskBytes > this.diskCapBytes && this.segments.length > 1) {
      const oldest = this.segments.shift()!;
      this.diskBytes -= oldest.size;
      try {
        fs.rmSync(this.segmentPath(oldest.start), { force: true });
      } catch {
        // The bytes are already journaled; failing the append over space we could not reclaim helps nobody.
      }
    }
  }

  private addToRing(bytes: Buffer, offset: number): void {
    if (this.ringBytes === 0) return;
    if (bytes.length > this.ringBytes) {
      // Copy the tail so the ring does not pin the caller's whole (larger than ring) buffer.
      this.clearRing();
      const kept = Buffer.from(bytes.subarray(bytes.length - this.ringBytes));
      this.pushChunk(kept, offset + bytes.length - this.ringBytes);
    } else if (bytes.length < SMALL_APPEND_BYTES) {
      this.appendToSlab(bytes, offset);
    } else {
      this.pushChunk(bytes, offset);
    }
    this.evictRing();
  }

  private appendToSlab(bytes: Buffer, offset: number): void {
    if (this.slab === null || this.slabUsed + bytes.length > this.slab.length) {
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const slab = this.slab;
    bytes.copy(slab, this.slabUsed);
    const lastIndex = this.ringChunks.length - 1;
    const last = lastIndex >= this.ringHead ? this.ringChunks[lastIndex]! : null;
    // Extend the newest chunk in place when it is exactly the slab's filled tail.
    if (last?.buffer === slab.buffer && last.byteOffset + last.length === slab.byteOffset + this.slabUsed) {
      this.ringChunks[lastIndex] = slab.subarray(this.slabUsed - last.length, this.slabUsed + bytes.length);
      this.ringSize += bytes.length;
    } else {
      this.pushChunk(slab.subarray(this.slabUsed, this.slabUsed + bytes.length), offset);
    }
    this.slabUsed += bytes.length;
  }

  private pushChunk(chunk: Buffer, offset: number): void {
    this.ringChunks.push(chunk);
    this.ringStarts.push(offset);
    this.ringSize += chunk.length;
  }

  private clearRing(): void {
    this.ringChunks = [];
    this.ringStarts = [];
    this.ringHead = 0;
    this.ringSize = 0;
  }

  /** Drops the oldest bytes beyond ringBytes, trimming the oldest chunk rather than dropping it whole. */
  private evictRing(): void {
    while (this.ringSize > this.ringBytes) {
      const excess = this.ringSize - this.ringBytes;
      const oldest = this.ringChunks[this.ringHead]!;
      if (oldest.length <= excess) {
        this.ringChunks[this.ringHead] = EMPTY;
        this.ringHead++;
        this.ringSize -= oldest.length;
      } else {
        this.ringChunks[this.ringHead] = oldest.subarray(excess);
        this.ringStarts[this.ringHead]! += excess;
        this.ringSize -= excess;
      }
    }
    if (this.ringHead > 1024 && this.ringHead * 2 > this.ringChunks.length) {
      this.ringChunks = this.ringChunks.slice(this.ringHead);
      this.ringStarts = this.ringStarts.slice(this.ringHead);
      this.ringHead = 0;
    }
  }

  private readDisk(from: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    let index = lastAtOrBelow(from, 0, this.segments.length - 1, (i) => this.segments[i]!.start);
    while (filled < length && index < this.segments.length) {
      const segment = this.segments[index++]!;
      const position = from + filled - segment.start;
      const wanted = Math.min(segment.size - position, length - filled);
      const got = readAt(this.segmentPath(segment.start), position, out, filled, wanted);
      filled += got;
      // A segment shorter than recorded (truncated underneath us): return only what is certainly correct.
      if (got < wanted) break;
    }
    return filled === length ? out : out.subarray(0, filled);
  }
}
