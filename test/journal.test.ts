import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../src/terminal/journal.js';

const KiB = 1024;

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function randomBytes(random: (n: number) => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = random(256);
  return bytes;
}

/** Appends to the journal and mirrors every byte into a reference buffer. */
class Recorder {
  private pieces: Buffer[] = [];
  private cached: Buffer | null = null;
  constructor(readonly journal: Journal) {}
  append(data: Buffer): number {
    const offset = this.journal.append(data);
    this.pieces.push(Buffer.from(data));
    this.cached = null;
    return offset;
  }
  get reference(): Buffer {
    this.cached ??= Buffer.concat(this.pieces);
    return this.cached;
  }
}

function diskUsage(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
}

function segmentStarts(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .map((name) => Number(name.slice(0, -4)))
    .sort((a, b) => a - b);
}

let tmp: string;
let dir: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tower-journal-'));
  dir = path.join(tmp, 'session');
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Journal offsets', () => {
  it('assigns consecutive offsets and reads back exact bytes from ring and disk', () => {
    const random = rng(1);
    const journal = Journal.open(dir, {
      ringBytes: 256 * KiB,
      segmentBytes: 100 * KiB,
      diskCapBytes: 64 * 1024 * KiB,
    });
    const recorder = new Recorder(journal);
    let expectedOffset = 0;
    while (journal.end < 3 * 1024 * KiB) {
      // Mix of tiny (coalesced) and large chunks.
      const length = random(4) === 0 ? 1 + random(100) : 1 + random(64 * KiB);
      expect(recorder.append(randomBytes(random, length))).toBe(expectedOffset);
      expectedOffset += length;
      expect(journal.end).toBe(expectedOffset);
    }
    const reference = recorder.reference;
    expect(journal.start).toBe(0);
    expect(journal.ringStart).toBe(journal.end - 256 * KiB);
    expect(segmentStarts(dir).length).toBeGreaterThan(10);

    for (let i = 0; i < 500; i++) {
      const from = random(journal.end + 1);
      const maxBytes = random(300 * KiB);
      const expected = reference.subarray(from, Math.min(journal.end, from + maxBytes));
      expect(journal.read(from, maxBytes).equals(expected)).toBe(true);
      const fromRing = journal.readRing(from, maxBytes);
      if (from < journal.ringStart) expect(fromRing).toBeNull();
      else expect(fromRing?.equals(expected)).toBe(true);
    }
    // Reads straddling every segment boundary and the ring boundary.
    for (const boundary of [...segmentStarts(dir), journal.ringStart]) {
      const from = Math.max(0, boundary - 1000);
      expect(journal.read(from, 5000).equals(reference.subarray(from, from + 5000))).toBe(true);
    }
    journal.close();
  });

  it('reads across many small ring chunks', () => {
    const journal = Journal.open(dir, { ringBytes: 64 * KiB });
    const recorder = new Recorder(journal);
    const random = rng(2);
    for (let i = 0; i < 20_000; i++) {
      recorder.append(randomBytes(random, 1 + random(i % 50 === 0 ? 9000 : 8)));
    }
    const reference = recorder.reference;
    for (let i = 0; i < 300; i++) {
      const from = journal.ringStart + random(journal.end - journal.ringStart + 1);
      const maxBytes = 1 + random(20 * KiB);
      const expected = reference.subarray(from, Math.min(journal.end, from + maxBytes));
      expect(journal.readRing(from, maxBytes)?.equals(expected)).toBe(true);
    }
    journal.close();
  });

  it('returns a zero-copy view when the range lies in one chunk', () => {
    const journal = Journal.open(dir);
    const chunk = Buffer.alloc(32 * KiB, 7);
    const offset = journal.append(chunk);
    const view = journal.readRing(offset + 10, 100)!;
    expect(view.buffer).toBe(chunk.buffer);
    expect(view.length).toBe(100);
    const second = Buffer.alloc(32 * KiB, 8);
    const secondOffset = journal.append(second);
    expect(journal.readRing(secondOffset, 100)!.buffer).toBe(second.buffer);
    journal.close();
  });

  it('accepts plain Uint8Array input', () => {
    const journal = Journal.open(dir);
    const backing = new Uint8Array([9, 9, 1, 2, 3, 4, 9]);
    journal.append(backing.subarray(2, 6));
    expect([...journal.read(0, 100)]).toEqual([1, 2, 3, 4]);
    expect([...journal.readRing(1, 2)!]).toEqual([2, 3]);
    journal.close();
  });
});

describe('Journal ring eviction', () => {
  it('serves evicted offsets from disk only', () => {
    const journal = Journal.open(dir, { ringBytes: 64 * KiB });
    const recorder = new Recorder(journal);
    const random = rng(3);
    for (let i = 0; i < 100; i++) recorder.append(randomBytes(random, 10 * KiB));
    const reference = recorder.reference;
    expect(journal.ringStart).toBe(journal.end - 64 * KiB);
    expect(journal.readRing(journal.ringStart - 1, 10)).toBeNull();
    expect(journal.readRing(0, 10)).toBeNull();
    const below = journal.ringStart - 5000;
    expect(journal.read(below, 10_000).equals(reference.subarray(below, below + 10_000))).toBe(true);
    expect(journal.read(0, 100).equals(reference.subarray(0, 100))).toBe(true);
    expect(journal.readRing(journal.ringStart, 64 * KiB)?.equals(reference.subarray(journal.ringStart))).toBe(
      true,
    );
    journal.close();
  });
});

describe('Journal readAsync', () => {
  it('reads evicted offsets from one segment file at a time, and the ring as it is', async () => {
    const segmentBytes = 100 * KiB;
    const journal = Journal.open(dir, { ringBytes: 64 * KiB, segmentBytes });
    const recorder = new Recorder(journal);
    const random = rng(5);
    for (let i = 0; i < 100; i++) recorder.append(randomBytes(random, 10 * KiB));
    const parts: Buffer[] = [];
    for (let at = 0; at < journal.end; ) {
      const chunk = await journal.readAsync(at, 30 * KiB);
      expect(chunk.length).toBeGreaterThan(0);
      expect(chunk.length).toBeLessThanOrEqual(30 * KiB);
      // From disk, a chunk never crosses a segment boundary.
      if (at < journal.ringStart) {
        expect(Math.floor((at + chunk.length - 1) / segmentBytes)).toBe(Math.floor(at / segmentBytes));
      }
      parts.push(chunk);
      at += chunk.length;
    }
    expect(Buffer.concat(parts).equals(recorder.reference)).toBe(true);
    expect((await journal.readAsync(journal.end, 10)).length).toBe(0);
    await expect(journal.readAsync(journal.end + 1, 10)).rejects.toMatchObject({
      code: 'offset_not_retained',
    });
    journal.close();
  });

  it('refuses offsets the disk cap dropped', async () => {
    const journal = Journal.open(dir, {
      ringBytes: 16 * KiB,
      segmentBytes: 64 * KiB,
      diskCapBytes: 256 * KiB,
    });
    const recorder = new Recorder(journal);
    const random = rng(6);
    while (journal.end < 1024 * KiB) recorder.append(randomBytes(random, 8 * KiB));
    expect(journal.start).toBeGreaterThan(0);
    await expect(journal.readAsync(journal.start - 1, 10)).rejects.toMatchObject({
      code: 'offset_not_retained',
    });
    const chunk = await journal.readAsync(journal.start, 10);
    expect(chunk.equals(recorder.reference.subarray(journal.start, journal.start + 10))).toBe(true);
    journal.close();
  });
});

describe('Journal disk cap', () => {
  it('drops whole oldest segments and keeps reads exact above start', () => {
    const segmentBytes = 64 * KiB;
    const diskCapBytes = 256 * KiB;
    const journal = Journal.open(dir, { ringBytes: 16 * KiB, segmentBytes, diskCapBytes });
    const recorder = new Recorder(journal);
    const random = rng(4);
    let previousStart = 0;
    while (journal.end < 2 * 1024 * KiB) {
      recorder.append(randomBytes(random, 1 + random(16 * KiB)));
      expect(diskUsage(dir)).toBeLessThanOrEqual(diskCapBytes + segmentBytes);
      expect(journal.start).toBeGreaterThanOrEqual(previousStart);
      expect(journal.start).toBe(segmentStarts(dir)[0]);
      // Only as many segments as needed are dropped.
      expect(journal.end - journal.start).toBeGreaterThanOrEqual(
        Math.min(journal.end, diskCapBytes - segmentBytes),
      );
      previousStart = journal.start;
    }
    expect(journal.start).toBeGreaterThan(1024 * KiB);
    expect(journal.end - journal.start).toBeLessThanOrEqual(diskCapBytes);

    const reference = recorder.reference;
    expect(() => journal.read(journal.start - 1, 10)).toThrow(/^offset_not_retained/);
    expect(() => journal.read(0, 10)).toThrow(RangeError);
    for (let i = 0; i < 200; i++) {
      const from = journal.start + random(journal.end - journal.start + 1);
      const maxBytes = random(200 * KiB);
      const expected = reference.subarray(from, Math.min(journal.end, from + maxBytes));
      expect(journal.read(from, maxBytes).equals(expected)).toBe(true);
    }
    expect(journal.read(journal.start, diskCapBytes).equals(reference.subarray(journal.start))).toBe(true);
    journal.close();
  });

  it('names segments by zero-padded start offset with private permissions', () => {
    const journal = Journal.open(dir, { segmentBytes: 1000, diskCapBytes: 1_000_000 });
    for (let i = 0; i < 3; i++) journal.append(Buffer.alloc(1000, i));
    expect(segmentStarts(dir)).toEqual([0, 1000, 2000]);
    // Sealed segments carry their size and checksum; the one being written does not yet.
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.sum'))).toEqual([
      '0000000000000000.sum',
      '0000000000001000.sum',
    ]);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, '0000000000001000.seg')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, '0000000000001000.sum')).mode & 0o777).toBe(0o600);
    journal.close();
    expect(fs.existsSync(path.join(dir, '0000000000002000.sum'))).toBe(true);
  });
});

describe('Journal reopen', () => {
  it('recovers start/end and continues appending at end', () => {
    const options = { ringBytes: 32 * KiB, segmentBytes: 50 * KiB, diskCapBytes: 200 * KiB };
    const first = Journal.open(dir, options);
    const recorder = new Recorder(first);
    const random = rng(5);
    while (first.end < 500 * KiB) recorder.append(randomBytes(random, 1 + random(20 * KiB)));
    const { start, end } = first;
    first.close();
    expect(() => first.append(Buffer.from('x'))).toThrow();

    const second = Journal.open(dir, options);
    expect(second.start).toBe(start);
    expect(second.end).toBe(end);
    expect(second.ringStart).toBe(end);
    expect(second.readRing(end - 1, 1)).toBeNull();
    expect(second.read(start, end).equals(recorder.reference.subarray(start))).toBe(true);

    const continued = new Recorder(second);
    expect(continued.append(Buffer.from('after restart'))).toBe(end);
    const reference = Buffer.concat([recorder.reference, continued.reference]);
    expect(second.read(second.start, 1024 * KiB).equals(reference.subarray(second.start))).toBe(true);
    second.close();

    const reader = Journal.open(dir, { ...options, readOnly: true });
    expect(reader.start).toBe(second.start);
    expect(reader.end).toBe(second.end);
    expect(() => reader.append(Buffer.from('nope'))).toThrow(/read-only/);
    expect(reader.read(reader.start, 1024 * KiB).equals(reference.subarray(reader.start))).toBe(true);
    reader.close();
  });

  it('starts empty in a fresh dir, and keeps the segments on both sides of a gap', () => {
    const options = { segmentBytes: 1000, diskCapBytes: 1_000_000 };
    const journal = Journal.open(dir, options);
    expect([journal.start, journal.end, journal.ringStart]).toEqual([0, 0, 0]);
    for (let i = 0; i < 4; i++) journal.append(Buffer.alloc(1000, i));
    journal.close();
    fs.rmSync(path.join(dir, '0000000000001000.seg'));

    const reopened = Journal.open(dir, options);
    expect([reopened.start, reopened.end]).toEqual([0, 4000]);
    // A read stops at the gap; inside it, the error names the bytes; nextRetained steps over it.
    expect(reopened.read(0, 4000).equals(Buffer.alloc(1000, 0))).toBe(true);
    expect(() => reopened.read(1500, 10)).toThrow(/output 1500-2000 was not saved/);
    expect(reopened.nextRetained(1000)).toBe(2000);
    expect(
      reopened.read(2000, 2000).equals(Buffer.concat([Buffer.alloc(1000, 2), Buffer.alloc(1000, 3)])),
    ).toBe(true);
    expect(reopened.health().gaps).toEqual([{ from: 1000, to: 2000, reason: 'not_saved' }]);
    reopened.destroy();
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('Journal edge cases', () => {
  it('treats a zero-length append as a no-op', () => {
    const journal = Journal.open(dir);
    journal.append(Buffer.from('abc'));
    expect(journal.append(Buffer.alloc(0))).toBe(3);
    expect(journal.end).toBe(3);
    expect(journal.read(0, 10).toString()).toBe('abc');
    journal.close();
  });

  it('keeps only the tail of an append larger than the ring', () => {
    const journal = Journal.open(dir, { ringBytes: 1000 });
    journal.append(Buffer.from('head'));
    const big = randomBytes(rng(6), 5000);
    expect(journal.append(big)).toBe(4);
    expect(journal.ringStart).toBe(5004 - 1000);
    expect(journal.readRing(4004, 2000)?.equals(big.subarray(4000))).toBe(true);
    expect(journal.readRing(4003, 10)).toBeNull();
    expect(journal.read(0, 10_000).equals(Buffer.concat([Buffer.from('head'), big]))).toBe(true);
    journal.close();
  });

  it('returns empty at end and throws past end', () => {
    const journal = Journal.open(dir);
    expect(journal.read(0, 10).length).toBe(0);
    expect(journal.readRing(0, 10)?.length).toBe(0);
    journal.append(Buffer.from('hello'));
    expect(journal.read(5, 10).length).toBe(0);
    expect(journal.readRing(5, 10)?.length).toBe(0);
    expect(journal.read(2, 0).length).toBe(0);
    expect(() => journal.readRing(6, 10)).toThrow(RangeError);
    expect(() => journal.read(6, 10)).toThrow(/^offset_not_retained/);
    expect(() => journal.read(-1, 10)).toThrow(/^offset_not_retained/);
    journal.close();
  });
});
