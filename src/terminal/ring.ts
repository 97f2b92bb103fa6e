/**
 * The newest output bytes of a session, in memory: a chain of chunks covering [start, end), trimmed from
 * the front as new bytes arrive. Live subscribers read from here; only a reader far behind goes to disk.
 */

/**
 * Appends smaller than this are copied into a shared slab instead of becoming ring entries of their own:
 * an interactive session emits many tiny chunks, and one Buffer object per keystroke echo would cost far
 * more memory than the bytes themselves.
 */
const SMALL_APPEND_BYTES = 4096;
const SLAB_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** Binary search over ascending starts in [low, high]: the last index whose start is <= offset. */
export function lastAtOrBelow(
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

export class OutputRing {
  // Chunk i holds [starts[i], starts[i] + chunks[i].length); entries below head are evicted and
  // compacted away lazily so eviction stays O(1) amortized.
  private chunks: Buffer[] = [];
  private starts: number[] = [];
  private head = 0;
  private size = 0;
  private slab: Buffer | null = null;
  private slabUsed = 0;

  constructor(
    private readonly capacity: number,
    private endOffset: number,
  ) {}

  /** The first offset held (the end when nothing is held). */
  get start(): number {
    return this.head < this.starts.length ? this.starts[this.head]! : this.endOffset;
  }

  /** Forget every byte held (they are on disk); reads below the end then return null. */
  release(): void {
    this.clear();
    this.slab = null;
    this.slabUsed = 0;
  }

  /** Keeps `bytes`, which begin at the offset where the previous append ended. */
  append(bytes: Buffer): void {
    const offset = this.endOffset;
    this.endOffset += bytes.length;
    if (this.capacity === 0) return;
    if (bytes.length > this.capacity) {
      // Copy the tail so the ring does not pin the caller's whole (larger than ring) buffer.
      this.clear();
      const kept = Buffer.from(bytes.subarray(bytes.length - this.capacity));
      this.push(kept, offset + bytes.length - this.capacity);
    } else if (bytes.length < SMALL_APPEND_BYTES) {
      this.appendToSlab(bytes, offset);
    } else {
      this.push(bytes, offset);
    }
    this.evict();
  }

  /** Up to maxBytes from `from` (a view when they lie in one chunk); null when `from` is below start. */
  read(from: number, maxBytes: number): Buffer | null {
    if (from < this.start) return null;
    const length = Math.max(0, Math.min(this.endOffset - from, maxBytes));
    if (length === 0) return EMPTY;

    let index = lastAtOrBelow(from, this.head, this.starts.length - 1, (i) => this.starts[i]!);
    const first = this.chunks[index]!;
    const firstOffset = from - this.starts[index]!;
    if (firstOffset + length <= first.length) return first.subarray(firstOffset, firstOffset + length);

    const pieces = [first.subarray(firstOffset)];
    let collected = first.length - firstOffset;
    while (collected < length) {
      const chunk = this.chunks[++index]!;
      const take = Math.min(chunk.length, length - collected);
      pieces.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      collected += take;
    }
    return Buffer.concat(pieces, length);
  }

  private appendToSlab(bytes: Buffer, offset: number): void {
    if (this.slab === null || this.slabUsed + bytes.length > this.slab.length) {
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const slab = this.slab;
    bytes.copy(slab, this.slabUsed);
    const lastIndex = this.chunks.length - 1;
    const last = lastIndex >= this.head ? this.chunks[lastIndex]! : null;
    // Extend the newest chunk in place when it is exactly the slab's filled tail.
    if (last?.buffer === slab.buffer && last.byteOffset + last.length === slab.byteOffset + this.slabUsed) {
      this.chunks[lastIndex] = slab.subarray(this.slabUsed - last.length, this.slabUsed + bytes.length);
      this.size += bytes.length;
    } else {
      this.push(slab.subarray(this.slabUsed, this.slabUsed + bytes.length), offset);
    }
    this.slabUsed += bytes.length;
  }

  private push(chunk: Buffer, offset: number): void {
    this.chunks.push(chunk);
    this.starts.push(offset);
    this.size += chunk.length;
  }

  private clear(): void {
    this.chunks = [];
    this.starts = [];
    this.head = 0;
    this.size = 0;
  }

  /** Drops the oldest bytes beyond capacity, trimming the oldest chunk rather than dropping it whole. */
  private evict(): void {
    while (this.size > this.capacity) {
      const excess = this.size - this.capacity;
      const oldest = this.chunks[this.head]!;
      if (oldest.length <= excess) {
        this.chunks[this.head] = EMPTY;
        this.head++;
        this.size -= oldest.length;
      } else {
        this.chunks[this.head] = oldest.subarray(excess);
        this.starts[this.head]! += excess;
        this.size -= excess;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.starts = this.starts.slice(this.head);
      this.head = 0;
    }
  }
}
