/**
 * A command run to completion on the daemon's host (local runs it as is, sandbox inside bwrap), as an
 * ordered stream of stdout, stderr and exit events. The stream is bounded: past STREAM_HIGH_WATER bytes
 * not yet taken by the consumer the command's pipes are paused (it blocks writing), and resumed when
 * the consumer catches up. A consumer that stops early, or a timeout, kills the command and all it
 * started.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { TowerError } from '../protocol/index.js';
import { ExecEvents } from './exec-events.js';
import type { ExecCommand, ExecEvent, ExecResult } from './types.js';

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

export interface ChildSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  input?: Buffer | string;
  timeoutMs?: number;
}

export async function* streamChild(spec: ChildSpec): AsyncGenerator<ExecEvent> {
  const [program, ...args] = spec.argv;
  if (!program) throw new TowerError('bad_message', 'exec needs a program: argv is empty');
  // A process group of its own: a timeout or a reader that stops ends all it started (bwrap's sandbox too).
  const child = spawn(program, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: [spec.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const killAll = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  let timedOut = false;
  const output = new ExecEvents([child.stdout, child.stderr].filter((stream) => stream !== null));
  child.stdout?.on('data', output.take('stdout'));
  child.stderr?.on('data', output.take('stderr'));
  child.stdin?.on('error', () => {});
  child.stdin?.end(spec.input);
  // A program that could not start: node reports the error, then a close that means nothing.
  child.once('error', (error) => output.failed(notStarted(program, error)));
  child.once('close', (code, signal) => {
    const number = signal ? (constants.signals[signal] ?? null) : null;
    output.exited({ type: 'exit', exit_code: code, signal: number, timed_out: timedOut });
  });
  const timer = setTimeout(() => {
    timedOut = true;
    killAll();
  }, spec.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    yield* output.events();
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) killAll();
  }
}

/** A stream gathered into one result; each of stdout and stderr keeps at most maxOutputBytes. */
export async function collect(events: AsyncIterable<ExecEvent>, command: ExecCommand): Promise<ExecResult> {
  const limit = command.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const sizes = { stdout: 0, stderr: 0 };
  let truncated = false;
  for await (const event of events) {
    if (event.type === 'exit') {
      return {
        stdout: Buffer.concat(kept.stdout),
        stderr: Buffer.concat(kept.stderr),
        exit_code: event.exit_code,
        signal: event.signal,
        truncated,
        timed_out: event.timed_out,
      };
    }
    const room = limit - sizes[event.type];
    if (event.data.length > room) truncated = true;
    if (room > 0) {
      const part = event.data.subarray(0, room);
      kept[event.type].push(part);
      sizes[event.type] += part.length;
    }
  }
  throw new TowerError('internal', 'the command ended without an exit status');
}

function notStarted(program: string, error: Error): TowerError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new TowerError('command_not_found', `command not found: ${program}`);
  return new TowerError('internal', `cannot run ${program}: ${error.message}`);
}
