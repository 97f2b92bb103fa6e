/**
 * Runs the real `tower` CLI (bin/tower.js) as a child process, and `tower attach` inside a real PTY
 * whose output is fed to a headless xterm, so tests see what a user would see.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as pty from '@lydell/node-pty';
import type { Terminal as HeadlessTerminal } from '@xterm/headless';
import xtermHeadless from '@xterm/headless';
import { expect } from 'vitest';
import { ROOT, TOWER_BIN, waitFor } from './daemon.js';

const { Terminal } = xtermHeadless;

/** The environment every CLI run gets: a fixed shell, and no state dir other than `--state-dir`. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SHELL: '/bin/bash',
    ...extra,
  };
  delete env.TOWER_STATE_DIR;
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/** Children still running, killed by `killLeftovers()`. */
const children = new Set<ChildProcess>();
const terminals = new Set<AttachedTerminal>();

export interface RunningCli {
  child: ChildProcess;
  stdoutBytes(): Buffer;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its output streams are closed. */
  done: Promise<CliResult>;
}

/** Start `tower --state-dir DIR ...args` without waiting for it. */
export function startCli(
  stateDir: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; bin?: string } = {},
): RunningCli {
  // A daemon started here must not take the default web port, which parallel daemons would fight over.
  const serving = args[0] === 'serve' && !args.includes('--port') && !args.includes('--no-http');
  const fullArgs = serving ? [...args, '--port', '0'] : args;
  const child = spawn(process.execPath, [options.bin ?? TOWER_BIN, '--state-dir', stateDir, ...fullArgs], {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
  return {
    child,
    stdoutBytes: () => Buffer.concat(out),
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    done,
  };
}

/** Run `tower --state-dir DIR ...args` to completion (killed after `timeoutMs`). */
export async function runCli(
  stateDir: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const running = startCli(stateDir, args, options);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  try {
    return await running.done;
  } finally {
    clearTimeout(timer);
  }
}

export function describeResult(result: CliResult): string {
  return `exit ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/** Run a command that must succeed; a failure names the command and shows its exit and output. */
export async function runCliOk(
  stateDir: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const result = await runCli(stateDir, args, options);
  expect(result.code, `tower ${JSON.stringify(args)}: ${describeResult(result)}`).toBe(0);
  return result;
}

/** `tower attach` (or any CLI command) in a real PTY, rendered by a headless xterm of the same size. */
export class AttachedTerminal {
  readonly terminal: HeadlessTerminal;
  readonly process: pty.IPty;
  /** Everything the process printed, decoded as UTF-8. */
  output = '';
  /** What the local terminal answered to queries it saw (sent to the attach process as input). */
  readonly replies: string[] = [];
  /** Every window title the process set, in order. */
  readonly titles: string[] = [];
  exit: { exitCode: number; signal?: number } | null = null;
  private readonly exited: Promise<{ exitCode: number; signal?: number }>;
  private writes: Promise<void> = Promise.resolve();
  private readonly decoder = new TextDecoder();

  constructor(
    stateDir: string,
    args: string[],
    options: { cols?: number; rows?: number; env?: Record<string, string> } = {},
  ) {
    const cols = options.cols ?? 100;
    const rows = options.rows ?? 30;
    this.terminal = new Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
    this.process = pty.spawn(process.execPath, [TOWER_BIN, '--state-dir', stateDir, ...args], {
      name: 'xterm-256color',
      cols,
      rows,
      cwd: ROOT,
      env: cliEnv({ TERM: 'xterm-256color', ...options.env }),
      encoding: null,
    });
    terminals.add(this);
    this.terminal.onTitleChange((title) => this.titles.push(title));
    const onData = (chunk: Buffer) => {
      this.output += this.decoder.decode(chunk, { stream: true });
      const bytes = new Uint8Array(chunk);
      this.writes = this.writes.then(
        () => new Promise<void>((resolve) => this.terminal.write(bytes, resolve)),
      );
    };
    this.process.onData((chunk) => onData(chunk as unknown as Buffer));
    // A real terminal answers queries (DA, cursor position) it sees in the stream: so does this one.
    this.terminal.onData((reply) => {
      if (this.exit) return;
      this.replies.push(reply);
      try {
        this.process.write(reply);
      } catch {
        // the process is exiting
      }
    });
    // node-pty can report EOF while the master still holds the child's last bytes (its final message):
    // read until EIO before the stream closes, as src/terminal/pty.ts does.
    const unix = this.process as unknown as { _socket: Socket; fd: number };
    unix._socket.prependListener('end', () => {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        let n: number;
        try {
          n = readSync(unix.fd, buffer, 0, buffer.length, null);
        } catch {
          return;
        }
        if (n === 0) return;
        onData(Buffer.from(buffer.subarray(0, n)));
      }
    });
    this.exited = new Promise((resolve) => {
      this.process.onExit((exit) => {
        this.exit = exit;
        terminals.delete(this);
        resolve(exit);
      });
    });
  }

  type(text: string): void {
    this.process.write(text);
  }

  resize(cols: number, rows: number): void {
    this.process.resize(cols, rows);
    this.terminal.resize(cols, rows);
  }

  /** The visible screen, one string per row (trailing spaces trimmed), after all output so far is parsed. */
  async screen(): Promise<string[]> {
    await this.writes;
    const buffer = this.terminal.buffer.active;
    const rows: string[] = [];
    for (let row = 0; row < this.terminal.rows; row++) {
      rows.push((buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '').replace(/ +$/, ''));
    }
    return rows;
  }

  async screenText(): Promise<string> {
    return (await this.screen()).join('\n');
  }

  /** Wait until the visible screen satisfies `predicate`; the error shows the screen. */
  async waitForScreen(
    predicate: (rows: string[]) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<string[]> {
    let last: string[] = [];
    try {
      return await waitFor(
        async () => {
          last = await this.screen();
          return predicate(last) ? last : undefined;
        },
        what,
        timeoutMs,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; screen was:\n${last.join('\n')}\nraw output: ${JSON.stringify(this.output)}`,
      );
    }
  }

  async waitForExit(timeoutMs = 10_000): Promise<{ exitCode: number; signal?: number }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`attach did not exit in ${timeoutMs} ms; output: ${JSON.stringify(this.output)}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (!this.exit) {
      try {
        this.process.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Kill every CLI process and attach PTY a test left running. */
export function killLeftovers(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const terminal of terminals) terminal.kill();
  terminals.clear();
}
