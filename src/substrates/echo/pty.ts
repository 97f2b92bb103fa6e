/**
 * A terminal with no program behind it: what is typed comes back byte for byte, as from a program that
 * prints its raw input, all in memory. It keeps the PtyProcess contract (output delivered on a later
 * turn, input bounded, pause holds output and input alike, the exit reported after the last byte), so
 * the session layer above it runs as it does on a real PTY. The session's arguments drive it:
 *
 *   --echo-banner=TEXT    printed when it starts
 *   --echo-exit-on=CHAR   reading this ASCII character ends it; what was typed before it is echoed first
 *   --echo-exit-code=N    the exit code it then reports (default 0)
 *   --echo-not-reading    it never reads: input waits, up to the bound, then `input_full`
 *
 * Other arguments are the stand-in program's own and are ignored; its command is never looked up.
 */
import { constants } from 'node:os';
import { TowerError } from '../../protocol/index.js';
import { MAX_INPUT_QUEUE_BYTES } from '../../protocol/limits.js';
import { type PtyExit, type PtyProcess, terminalClosed } from '../../terminal/pty.js';
import { inputFull, REPLY_QUEUE_LIMIT } from '../../terminal/pty-input.js';
import type { PtySpec } from '../types.js';

export interface EchoOptions {
  banner: string;
  /** The byte that ends it, or null. */
  exitOn: number | null;
  exitCode: number;
  reading: boolean;
}

const OPTION = /^--echo-([a-z-]+)(?:=([\s\S]*))?$/;
const OPTIONS = '--echo-banner=TEXT, --echo-exit-on=CHAR, --echo-exit-code=N, --echo-not-reading';

export function echoOptions(args: string[]): EchoOptions {
  const options: EchoOptions = { banner: '', exitOn: null, exitCode: 0, reading: true };
  for (const arg of args) {
    const [, name, value = ''] = OPTION.exec(arg) ?? [];
    if (name === undefined) continue;
    if (name === 'banner') options.banner = value;
    else if (name === 'exit-on' && /^[\x00-\x7f]$/.test(value)) options.exitOn = value.charCodeAt(0);
    else if (name === 'exit-code' && /^\d{1,3}$/.test(value) && Number(value) <= 255)
      options.exitCode = Number(value);
    else if (name === 'not-reading' && value === '') options.reading = false;
    else throw new TowerError('bad_message', `echo substrate: bad option ${JSON.stringify(arg)}; ${OPTIONS}`);
  }
  return options;
}

export async function openEchoPty(spec: PtySpec): Promise<PtyProcess> {
  return new EchoTerminal(echoOptions(spec.args), spec.command);
}

class EchoTerminal implements PtyProcess {
  /** No process: nothing to signal. */
  readonly pid = 0;
  /** Typed, not yet read by the stand-in program. */
  private unread: Buffer[] = [];
  private unreadBytes = 0;
  /** Printed, not yet delivered (held while paused, or until the session listens). */
  private readonly printed: Buffer[] = [];
  private paused = false;
  private ended: PtyExit | null = null;
  private exitReported = false;
  private dataListener: ((chunk: Buffer) => void) | null = null;
  private exitListener: ((exit: PtyExit) => void) | null = null;
  private scheduled = false;

  constructor(
    private readonly options: EchoOptions,
    private readonly command: string,
  ) {
    if (options.banner !== '') this.print(Buffer.from(options.banner));
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListener = listener;
    this.schedule();
  }

  onExit(listener: (exit: PtyExit) => void): void {
    this.exitListener = listener;
    this.schedule();
  }

  write(data: Buffer | string): void {
    if (this.ended) throw terminalClosed();
    const bytes = Buffer.from(data);
    if (this.unreadBytes + bytes.length > MAX_INPUT_QUEUE_BYTES) {
      throw inputFull(this.unreadBytes, MAX_INPUT_QUEUE_BYTES);
    }
    this.type(bytes);
  }

  reply(data: Buffer | string): void {
    const bytes = Buffer.from(data);
    if (this.ended || this.unreadBytes + bytes.length > REPLY_QUEUE_LIMIT) return;
    this.type(bytes);
  }

  resize(): void {
    if (this.ended) throw terminalClosed();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  kill(signal: NodeJS.Signals = 'SIGHUP'): void {
    if (!this.ended) this.end({ exitCode: 0, signal: constants.signals[signal] });
  }

  foregroundProcess(): string {
    return this.command;
  }

  private type(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.unread.push(bytes);
    this.unreadBytes += bytes.length;
    this.schedule();
  }

  private print(bytes: Buffer): void {
    if (bytes.length > 0) this.printed.push(bytes);
    this.schedule();
  }

  private end(exit: PtyExit): void {
    this.ended = exit;
    this.unread = [];
    this.unreadBytes = 0;
    this.schedule();
  }

  /** On a later turn, as a real terminal would: the program reads, then the output and the exit go out. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    if (!this.paused && this.options.reading && !this.ended) this.readInput();
    // At the exit everything printed goes out, paused or not: a PTY is drained before its exit.
    if (this.dataListener && (!this.paused || this.ended)) {
      for (const chunk of this.printed.splice(0)) this.dataListener(chunk);
    }
    if (this.ended && this.printed.length === 0 && this.exitListener && !this.exitReported) {
      this.exitReported = true;
      this.exitListener(this.ended);
    }
  };

  private readInput(): void {
    const input = this.unread;
    this.unread = [];
    this.unreadBytes = 0;
    for (const chunk of input) {
      const at = this.options.exitOn === null ? -1 : chunk.indexOf(this.options.exitOn);
      if (at === -1) {
        this.print(chunk);
        continue;
      }
      this.print(chunk.subarray(0, at));
      this.end({ exitCode: this.options.exitCode, signal: null });
      return;
    }
  }
}
