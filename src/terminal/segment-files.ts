/** Reading segment files: whole-file checksums, positioned reads, and the checksum files beside them. */
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

const VERIFY_CHUNK_BYTES = 1024 * 1024;

export function readSum(file: string): { size: number; crc: number } | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const match = /^(\d+) (\d+)\n$/.exec(text);
  return match ? { size: Number(match[1]), crc: Number(match[2]) } : null;
}

export function checksumOf(file: string): { size: number; crc: number } {
  const fd = openForReading(file);
  try {
    const buffer = Buffer.allocUnsafe(VERIFY_CHUNK_BYTES);
    let crc = 0;
    let size = 0;
    for (;;) {
      const got = fs.readSync(fd, buffer, 0, buffer.length, size);
      if (got === 0) return { size, crc };
      crc = crc32(buffer.subarray(0, got), crc);
      size += got;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** checksumOf off the event loop: the file is read on libuv's thread pool, a chunk at a time. */
export async function checksumOfAsync(file: string): Promise<{ size: number; crc: number }> {
  const handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${path.basename(file)} is not a regular file`);
    const buffer = Buffer.allocUnsafe(VERIFY_CHUNK_BYTES);
    let crc = 0;
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) return { size, crc };
      crc = crc32(buffer.subarray(0, bytesRead), crc);
      size += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** O_NONBLOCK so that a FIFO planted in place of a segment cannot block the daemon in open(). */
function openForReading(file: string): number {
  return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
}

/** Reads up to `length` bytes at `position` of file into target[at..]; returns how many were read. */
export function readAt(file: string, position: number, target: Buffer, at: number, length: number): number {
  const fd = openForReading(file);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`${path.basename(file)} is not a regular file`);
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

/**
 * readAt off the event loop: open, check, read and close run on libuv's thread pool, so a slow disk
 * holds up only this reader. Returns how many bytes were read into target[0..].
 */
export async function readAtAsync(
  file: string,
  position: number,
  target: Buffer,
  length: number,
): Promise<number> {
  const handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${path.basename(file)} is not a regular file`);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(target, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  } finally {
    await handle.close();
  }
}
