/**
 * A box: a machine Tower reaches over a link (an SSH connection, a Docker Engine) and runs programs on.
 * Everything a remote substrate does on it (commands, the credential probe, bootstrap phases, Tower's
 * own session host, tmux) is built on `spawn` alone, so the ssh and docker folders only say how to
 * start a process there and how the link is kept.
 */
import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** A process on the box. Its streams carry backpressure end to end (SSH channel windows, the engine's). */
export interface BoxProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Empty for a process on a terminal (its output is all on stdout). */
  readonly stderr: Readable;
  /** Settles once it has ended and its output streams are done; `signal` is a name (TERM), or null. */
  readonly exit: Promise<{ code: number | null; signal: string | null }>;
  /** End it, and what it started where the box can (a process group, the exec's session). */
  kill(): void;
}

/** A process on a terminal of the box's own (an SSH pty channel, a Docker exec with Tty). */
export interface BoxTerminalProcess extends BoxProcess {
  resize(cols: number, rows: number): void;
}

export interface BoxSpawnOptions {
  /** Absolute on the box; default: the box user's home. */
  cwd?: string;
  /** Added to the box's own environment. */
  env?: Record<string, string>;
}

export interface BoxTerminalOptions extends BoxSpawnOptions {
  cols: number;
  rows: number;
  /** TERM; default xterm-256color. */
  term?: string;
}

/**
 * The link to the box, as sessions see it:
 * - `up`: programs can be started;
 * - `connecting`: not yet, or again after a drop (reason: why it dropped), retried with backoff;
 * - `down`: the box refuses us or sleeps, and retrying will not help until something changes (a host
 *   key that does not match, a stopped container);
 * - `gone`: the box no longer exists (a removed container): what ran on it is lost;
 * - `closed`: closed by Tower.
 */
export type BoxLinkState =
  | { state: 'up' }
  | { state: 'connecting' | 'down' | 'gone'; reason: string }
  | { state: 'closed' };

export interface BoxEvents {
  link: [BoxLinkState];
}

export interface Box extends EventEmitter<BoxEvents> {
  /** The substrate's name (for messages). */
  readonly name: string;
  link(): BoxLinkState;
  /** Resolves once the link is up (connecting it if needed); rejects with why, past timeoutMs. */
  whenUp(timeoutMs?: number): Promise<void>;
  /** A program by argv (never through a shell unless argv says so), no terminal. */
  spawn(argv: string[], options?: BoxSpawnOptions): Promise<BoxProcess>;
  /** A program on a terminal of the box's own: ends with the link (no reattach). */
  spawnTerminal(argv: string[], options: BoxTerminalOptions): Promise<BoxTerminalProcess>;
  /** Drop the link now, as a fault would (tests, `tower substrates reconnect`); it reconnects. */
  drop(reason: string): void;
  /** Close for good: no reconnecting; processes on it are left to the box. */
  close(): void;
}
