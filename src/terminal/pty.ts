/**
 * A child process on a pseudo-terminal, delivering raw output bytes and an exit
 * that is reported only after every byte the child wrote has been delivered.
 */
import { readSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as nodePty from '@lydell/node-pty';
import { TowerError } from '../protocol/errors.js';
import { PtyInput } from './pty-input.js';

export interface PtySpawnOptions {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export interface PtyExit {
  exitCode: number;
  /** Signal number that ended the child, or null. */
  signal: number | null;
}

/**
 * How a terminal on another machine is reached. `disconnected`: the link dropped, the program runs on
 * there and its output is caught up when the link is back; `lost`: the machine or its copy of the
 * session is gone (the session ends as lost).
 */
export type TerminalLink = { state: 'connected' } | { state: 'disconnected' | 'lost'; reason: string };

/**
 * A program on a terminal, as the session layer drives it: the seam every substrate's `openPty` returns.
 * What arrives before a listener is set (a substrate may take a moment to hand the terminal over) is held
 * and given to it, the output bounded by pausing the terminal.
 */
export interface PtyProcess {
  readonly pid: number;
  onData(listener: (chunk: Buffer) => void): void;
  /** Fires once, after the last byte has been passed to the data listener. */
  onExit(listener: (exit: PtyExit) => void): void;
  /** Queue input (bounded; see PtyInput): throws `input_full` when the program is not reading. */
  write(data: Buffer | string): void;
  /** An answer to a terminal query: dropped, not queued, when the program is not reading. */
  reply(data: Buffer | string): void;
  /** Throws `session_not_running` once the program has exited (the resize raced the exit). */
  resize(cols: number, rows: number): void;
  /** Stop reading the PTY (the child blocks once the kernel buffer is full). */
  pause(): void;
  resume(): void;
  kill(signal?: NodeJS.Signals): void;
  /** Name of the terminal's foreground process (the shell itself when it waits at its prompt). */
  foregroundProcess(): string;
  /** Terminals on another machine: every change of the link to it. */
  onLink?(listener: (link: TerminalLink) => void): void;
  /** Output that could not be recovered after a link drop (say, from a screen capture instead). */
  onGap?(listener: (reason: string) => void): void;
  /** Let go of it, leaving the program running where it runs (this daemon stops; the next reattaches). */
  detach?(): void;
}

const DRAIN_CHUNK = 64 * 1024;
/** Output held before the data listener is set, past which reading pauses until it is. */
const EARLY_HIGH_WATER = 1024 * 1024;

/** The program has exited, or let go of its terminal: nothing reaches it any more. */
export function terminalClosed(): TowerError {
  return new TowerError(
    'session_not_running',
    'its terminal is closed (the program has exited or let go of it)',
  );
}

export function spawnPty(options: PtySpawnOptions): PtyProcess {
  const child = nodePty.spawn(options.command, options.args, {
    name: options.env.TERM ?? 'xterm-256color',
    cols: options.cols,
    rows: options.rows,
    cwd: options.cwd,
    env: options.env,
    encoding: null,
  });
  // node-pty's Unix terminal exposes its tty stream and master fd only outside its typings;
  // we need both to own the drain at EOF.
  const unix = child as unknown as { _socket: Socket; fd: number };
  const stream = unix._socket;
  const masterFd = unix.fd;
  // Until the session sets its listeners: output held (bounded: reading pauses), the exit kept.
  const early: Buffer[] = [];
  let earlyBytes = 0;
  let heldEarly = false;
  let dataListener: (chunk: Buffer) => void = (chunk) => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes >= EARLY_HIGH_WATER && !heldEarly) {
      heldEarly = true;
      child.pause();
    }
  };
  let earlyExit: PtyExit | null = null;
  let exitListener: (exit: PtyExit) => void = (exit) => {
    earlyExit = exit;
  };

  child.onData((chunk) => dataListener(chunk as unknown as Buffer));

  // Every path that closes the master fd must first read what the kernel still holds:
  // - libuv reports EOF on POLLHUP after a short read, while the master may still hold the
  //   child's last kilobytes;
  // - node-pty destroys the stream 200 ms after the child exits if it has not closed by then,
  //   which happens whenever we had paused reading (see destroy below).
  // The kernel answers EIO only once its buffers are empty, so read synchronously until EIO
  // (EAGAIN: a background process still holds the terminal open).
  const drain = () => {
    const buffer = Buffer.allocUnsafe(DRAIN_CHUNK);
    for (;;) {
      let n: number;
      try {
        n = readSync(masterFd, buffer, 0, buffer.length, null);
      } catch {
        return;
      }
      if (n === 0) return;
      dataListener(Buffer.from(buffer.subarray(0, n)));
    }
  };
  stream.prependListener('end', drain);
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (error?: Error) => {
    if (!stream.destroyed) {
      // A paused stream keeps reading up to its high-water mark and holds that data unemitted;
      // destroy() would drop it. read() hands it out (as 'data' events) before the kernel's rest.
      while (stream.read() !== null) {}
      drain();
    }
    return destroy(error);
  };

  // Never node-pty's write: it busy-loops on EAGAIN when the program stops reading.
  const input = new PtyInput(masterFd);
  let exited = false;

  // node-pty emits exit after its stream has closed, so after the drain above.
  child.onExit(({ exitCode, signal }) => {
    exited = true;
    input.close();
    exitListener({ exitCode, signal: signal ? signal : null });
  });

  return {
    pid: child.pid,
    onData: (listener) => {
      for (const chunk of early.splice(0)) listener(chunk);
      dataListener = listener;
      if (heldEarly) {
        heldEarly = false;
        child.resume();
      }
    },
    onExit: (listener) => {
      exitListener = listener;
      if (earlyExit) listener(earlyExit);
    },
    write: (data) => {
      if (stream.destroyed) throw terminalClosed();
      input.write(Buffer.from(data));
    },
    reply: (data) => input.reply(Buffer.from(data)),
    resize: (cols, rows) => {
      try {
        child.resize(cols, rows);
      } catch (error) {
        // The ioctl fails with EBADF once node-pty has closed the master: the exit is on its way, or the
        // program let go of its terminal and runs on without one.
        if (exited || stream.destroyed) throw terminalClosed();
        throw error;
      }
    },
    pause: () => child.pause(),
    resume: () => child.resume(),
    kill: (signal = 'SIGHUP') => child.kill(signal),
    foregroundProcess: () => child.process,
  };
}
