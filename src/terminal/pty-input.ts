/**
 * Input for a PTY, written without ever blocking the event loop.
 *
 * node-pty writes through a libuv TTY handle that retries EAGAIN in a busy loop, so a program that
 * stops reading its input (raw mode, 16 KiB typed) would freeze the whole daemon. Here the master fd
 * (non-blocking) is written directly: what the kernel does not take waits in a bounded queue and is
 * retried on a timer that backs off while the program is not reading.
 */
import { writeSync } from 'node:fs';
import { TowerError } from '../protocol/errors.js';
import { MAX_INPUT_QUEUE_BYTES } from '../protocol/limits.js';

const RETRY_FIRST_MS = 1;
const RETRY_MAX_MS = 50;
/** Terminal-query answers are dropped rather than queued behind more than this much waiting input. */
export const REPLY_QUEUE_LIMIT = 4096;

/** Input refused: the program has not read what already waits for it. */
export function inputFull(waiting: number, limit: number): TowerError {
  return new TowerError(
    'input_full',
    `the program is not reading its input: ${waiting} bytes already wait for it ` +
      `(at most ${limit}); try again once it reads`,
  );
}

export class PtyInput {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;
  private closed = false;
  /** Answers to terminal queries dropped because the program was not reading. */
  droppedReplies = 0;

  constructor(
    private readonly fd: number,
    private readonly limit = MAX_INPUT_QUEUE_BYTES,
  ) {}

  /** Bytes waiting for the program to read. */
  get pending(): number {
    return this.queuedBytes;
  }

  /** Queue typed input; refused with `input_full` when the program has not read the last `limit` bytes. */
  write(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    if (this.queuedBytes + data.length > this.limit) throw inputFull(this.queuedBytes, this.limit);
    this.enqueue(data);
  }

  /**
   * An answer to a terminal query (cursor position, device attributes). A program that floods queries
   * without reading would otherwise grow the queue forever: behind waiting input the answer is dropped.
   */
  reply(data: Buffer): void {
    if (this.closed) return;
    if (this.queuedBytes + data.length > REPLY_QUEUE_LIMIT) {
      this.droppedReplies++;
      return;
    }
    this.enqueue(data);
  }

  /** The program is gone: nothing more will be read. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private enqueue(data: Buffer): void {
    this.queue.push(data);
    this.queuedBytes += data.length;
    if (this.timer === undefined) this.flush();
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, head);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
        // EIO / EBADF: the program has exited; its exit is reported through the read side.
        this.close();
        return;
      }
      this.queuedBytes -= written;
      if (written > 0) this.retryMs = RETRY_FIRST_MS;
      if (written === head.length) this.queue.shift();
      else {
        this.queue[0] = head.subarray(written);
        break;
      }
    }
    if (this.queue.length === 0) return;
    this.timer = setTimeout(this.flush, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  };
}
