/**
 * The journal under disk faults: a full disk never fails an append (bytes stay in memory, the failure is
 * reported, writing resumes and back-fills when space returns, what could not be kept becomes a gap);
 * damaged, unreadable or impossible segment files are reported and never served.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../src/terminal/journal.js';
import { mountSmallDisk, RUN_FULL_DISK, type SmallDisk } from './support/tmpfs.js';

const KiB = 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let tmp: string;
let dir: string;
let warnings: string[];
const warn = (message: string) => warnings.push(message);

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tower-journal-faults-'));
  dir = path.join(tmp, 'session');
  warnings = [];
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Four sealed 1000-byte segments of bytes 0, 1, 2, 3 (and the last one sealed by close). */
function fourSegments(): void {
  const journal = Journal.open(dir, { segmentBytes: 1000, diskCapBytes: 1_000_000 });
  for (let i = 0; i < 4; i++) journal.append(Buffer.alloc(1000, i));
  journal.close();
}

const segment = (start: number) => path.join(dir, `${String(start).padStart(16, '0')}.seg`);

describe('damaged segments are reported, never served', () => {
  it('a flipped byte fails the checksum: the segment is skipped and named', () => {
    fourSegments();
    const fd = fs.openSync(segment(1000), 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 500);
    fs.closeSync(fd);
    const journal = Journal.open(dir, { readOnly: true, warn });
    expect(() => journal.read(1200, 10)).toThrow(/output 1000-2000 is damaged on disk/);
    expect(journal.read(0, 4000).equals(Buffer.alloc(1000, 0))).toBe(true);
    expect(journal.nextRetained(1000)).toBe(2000);
    expect(
      journal.read(2000, 2000).equals(Buffer.concat([Buffer.alloc(1000, 2), Buffer.alloc(1000, 3)])),
    ).toBe(true);
    expect(journal.health().gaps).toEqual([{ from: 1000, to: 2000, reason: 'damaged' }]);
    expect(warnings.join('\n')).toMatch(/does not match its checksum/);
  });

  it('a truncated sealed segment is damaged, not silently short', () => {
    fourSegments();
    fs.truncateSync(segment(2000), 600);
    const journal = Journal.open(dir, { readOnly: true, warn });
    expect(() => journal.read(2000, 10)).toThrow(/damaged/);
    expect(warnings.join('\n')).toMatch(/is 600 bytes, sealed at 1000/);
  });

  it('a segment that became a directory, a FIFO or vanished is unreadable, and reading does not block', () => {
    fourSegments();
    fs.rmSync(segment(1000));
    fs.mkdirSync(segment(1000));
    fs.rmSync(segment(2000));
    execFileSync('mkfifo', [segment(2000)]);
    const journal = Journal.open(dir, { readOnly: true, warn });
    expect(() => journal.read(1000, 10)).toThrow(/output 1000-2000 cannot be read/);
    expect(() => journal.read(2000, 10)).toThrow(/output 2000-3000 cannot be read/);
    // A segment removed under a reader: the error says so instead of crashing the reader.
    fs.rmSync(segment(3000));
    expect(() => journal.read(3000, 10)).toThrow(/output 3000-4000 cannot be read/);
    expect(journal.read(0, 4000).equals(Buffer.alloc(1000, 0))).toBe(true);
    expect(journal.health().gaps.map((gap) => gap.reason)).toEqual([
      'unreadable',
      'unreadable',
      'unreadable',
    ]);
  });

  it('readAsync meets the same faults as read, and marks the segments the same way', async () => {
    fourSegments();
    const fd = fs.openSync(segment(1000), 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 500);
    fs.closeSync(fd);
    fs.rmSync(segment(2000));
    execFileSync('mkfifo', [segment(2000)]);
    const journal = Journal.open(dir, { readOnly: true, warn });
    fs.rmSync(segment(3000));
    // Two readers at once share one checksum, computed off the event loop: one warning.
    const both = [journal.readAsync(1200, 10), journal.readAsync(1500, 10)];
    for (const read of both) await expect(read).rejects.toThrow(/output 1000-2000 is damaged on disk/);
    expect(warnings.filter((line) => /does not match its checksum/.test(line))).toHaveLength(1);
    await expect(journal.readAsync(2000, 10)).rejects.toThrow(/output 2000-3000 cannot be read/);
    await expect(journal.readAsync(3000, 10)).rejects.toThrow(/output 3000-4000 cannot be read/);
    // One segment at a time: the first 1000 bytes, whole.
    expect((await journal.readAsync(0, 4000)).equals(Buffer.alloc(1000, 0))).toBe(true);
    expect(journal.health().gaps.map((gap) => gap.reason)).toEqual(['damaged', 'unreadable', 'unreadable']);
    expect(journal.nextRetained(1000)).toBe(4000);
  });

  it('ignores a segment whose name is beyond 2^53, with a warning', () => {
    fourSegments();
    fs.writeFileSync(path.join(dir, '9999999999999999.seg'), 'junk');
    const journal = Journal.open(dir, { readOnly: true, warn });
    expect([journal.start, journal.end]).toEqual([0, 4000]);
    expect(journal.read(0, 10).equals(Buffer.alloc(10, 0))).toBe(true);
    expect(warnings.join('\n')).toMatch(/9999999999999999\.seg: its offset is beyond 2\^53/);
  });
});

describe.runIf(RUN_FULL_DISK)('a full disk', () => {
  let disk: SmallDisk;
  beforeEach(() => {
    disk = mountSmallDisk(2048 * KiB);
    dir = path.join(disk.dir, 'session');
  });
  afterEach(() => disk.unmount());

  const chunk = (i: number) => Buffer.alloc(8 * KiB, i % 251);

  it('keeps output in memory, reports it, and back-fills the disk when space returns', async () => {
    let changes = 0;
    const journal = Journal.open(dir, {
      segmentBytes: 64 * KiB,
      ringBytes: 4 * 1024 * KiB,
      warn,
      onHealthChange: () => changes++,
    });
    const reference: Buffer[] = [];
    const append = (i: number) => {
      reference.push(chunk(i));
      journal.append(chunk(i));
    };
    for (let i = 0; i < 10; i++) append(i);
    disk.fill();
    for (let i = 10; i < 100; i++) append(i);
    const all = Buffer.concat(reference);
    expect(journal.end).toBe(all.length);
    expect(journal.health().error).toMatch(
      /the disk is full \(ENOSPC\): output since offset \d+ is kept in memory/,
    );
    expect(changes).toBe(1);
    expect(journal.read(0, all.length).equals(all)).toBe(true);

    disk.free();
    await sleep(1100);
    append(100);
    expect(journal.health(), warnings.join('\n')).toEqual({ error: null, gaps: [] });
    expect(changes).toBe(2);
    journal.close();
    const reopened = Journal.open(dir, { readOnly: true });
    const saved = Buffer.concat([...reference]);
    expect(reopened.read(0, saved.length).equals(saved)).toBe(true);
  });

  it('records what memory could not hold as a gap, and reads around it', async () => {
    const journal = Journal.open(dir, { segmentBytes: 64 * KiB, ringBytes: 32 * KiB, warn });
    for (let i = 0; i < 4; i++) journal.append(chunk(i));
    disk.fill();
    const failedAt = journal.end;
    for (let i = 4; i < 40; i++) journal.append(chunk(i));
    disk.free();
    await sleep(1100);
    journal.append(chunk(40));
    const health = journal.health();
    expect(health.error).toBeNull();
    const lostTo = journal.end - 8 * KiB - 32 * KiB;
    expect(health.gaps).toEqual([{ from: failedAt, to: lostTo + 8 * KiB, reason: 'not_saved' }]);
    expect(warnings.join('\n')).toMatch(/saving output again; output \d+-\d+ was lost/);
    journal.close();
    const reopened = Journal.open(dir, { readOnly: true });
    expect(reopened.read(0, journal.end).length).toBe(failedAt);
    expect(reopened.nextRetained(failedAt)).toBe(lostTo + 8 * KiB);
  });

  it('opens for writing on a disk that is already full', () => {
    disk.fill();
    const journal = Journal.open(dir, { warn });
    journal.append(Buffer.from('hello'));
    expect(journal.read(0, 5).toString()).toBe('hello');
    expect(journal.health().error).toMatch(/full/);
  });
});
