/**
 * A program on a PTY inside bwrap. The PTY's child is bwrap, which runs an init of its own (pid 1 of
 * the sandbox) that runs the program: signals go to the program itself, and bwrap reports a program
 * killed by signal N as exit code 128+N, which is given back as that signal. When bwrap ends, nothing
 * of its sandbox outlives it.
 */
import { readFileSync } from 'node:fs';
import { TowerError } from '../../protocol/index.js';
import { type PtyExit, type PtyProcess, spawnPty } from '../../terminal/pty.js';
import { checkCwd, resolveCommand } from '../command.js';
import { withProcessLimits } from '../process-limits.js';
import type { PtySpec } from '../types.js';
import { type Sandbox, sandboxCommand } from './bwrap.js';

/** Exit codes past this are a shell's way of saying "killed by signal (code - 128)". */
const SIGNAL_BASE = 128;
const MAX_SIGNAL = 64;

export async function openSandboxPty(sandbox: Sandbox, spec: PtySpec): Promise<PtyProcess> {
  const bwrap = await sandbox.bwrap();
  const cwd = checkCwd(spec.cwd);
  const executable = resolveCommand(spec.command, cwd, spec.env.PATH);
  const { args, env } = sandboxCommand(sandbox, { cwd, env: spec.env, access: spec.access, executable });
  let pty: PtyProcess;
  try {
    const program = withProcessLimits(bwrap, [...args, executable, ...spec.args], spec.limits);
    pty = spawnPty({ ...program, cwd, env, cols: spec.cols, rows: spec.rows });
  } catch (error) {
    throw new TowerError('internal', `cannot start ${spec.command}: ${(error as Error).message}`);
  }
  return {
    ...pty,
    onExit: (listener) =>
      pty.onExit((exit) => {
        endSandbox(pty.pid);
        listener(asSignal(exit));
      }),
    kill: (signal = 'SIGHUP') => {
      const program = sandboxedProgram(pty.pid);
      if (program === null) {
        pty.kill(signal);
        return;
      }
      try {
        process.kill(program, signal);
      } catch {
        // It has just exited: its exit is on the way.
      }
    },
  };
}

/**
 * bwrap ended: whatever is left of its sandbox goes too. A bwrap killed while it set the sandbox up
 * leaves its child waiting for it forever, as the init of a PID namespace, which no signal but SIGKILL
 * reaches (the terminal's hangup included). Everything started there is in bwrap's process group.
 */
function endSandbox(bwrapPid: number): void {
  try {
    process.kill(-bwrapPid, 'SIGKILL');
  } catch {
    // Nothing was left.
  }
}

function asSignal(exit: PtyExit): PtyExit {
  const signal = exit.exitCode - SIGNAL_BASE;
  if (exit.signal || signal < 1 || signal > MAX_SIGNAL) return exit;
  return { exitCode: 0, signal };
}

/** bwrap → its init → the program; null while the program is not started yet (or already gone). */
function sandboxedProgram(bwrapPid: number): number | null {
  let pid = bwrapPid;
  for (let depth = 0; depth < 2; depth++) {
    const child = firstChild(pid);
    if (child === null) return null;
    pid = child;
  }
  return pid;
}

function firstChild(pid: number): number | null {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    const first = Number(children[0]);
    return Number.isInteger(first) && first > 0 ? first : null;
  } catch {
    return null;
  }
}
