/** A program on a PTY of the daemon's host: cwd and command checked here first, limits by prlimit(1). */
import { TowerError } from '../../protocol/index.js';
import { type PtyProcess, spawnPty } from '../../terminal/pty.js';
import { checkCwd, resolveCommand } from '../command.js';
import { withProcessLimits } from '../process-limits.js';
import type { PtySpec } from '../types.js';

export async function openLocalPty(spec: PtySpec): Promise<PtyProcess> {
  const cwd = checkCwd(spec.cwd);
  const executable = resolveCommand(spec.command, cwd, spec.env.PATH);
  try {
    const program = withProcessLimits(executable, spec.args, spec.limits);
    return spawnPty({ ...program, cwd, env: spec.env, cols: spec.cols, rows: spec.rows });
  } catch (error) {
    throw new TowerError('internal', `cannot start ${spec.command}: ${(error as Error).message}`);
  }
}
