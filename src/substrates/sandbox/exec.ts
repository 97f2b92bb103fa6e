/** A command run to completion inside a sandbox of its own (its cwd, when given, is its workspace). */
import { homedir } from 'node:os';
import { TowerError } from '../../protocol/index.js';
import { streamChild } from '../child.js';
import { checkCwd, resolveCommand } from '../command.js';
import type { ExecCommand, ExecEvent } from '../types.js';
import { type Sandbox, sandboxCommand } from './bwrap.js';

export async function* streamSandbox(sandbox: Sandbox, command: ExecCommand): AsyncGenerator<ExecEvent> {
  const bwrap = await sandbox.bwrap();
  const cwd = command.cwd === undefined ? null : checkCwd(command.cwd);
  const env = command.env ?? (process.env as Record<string, string>);
  const [program] = command.argv;
  if (program === undefined) throw new TowerError('bad_message', 'exec needs a program: argv is empty');
  // The sandbox shows the host's programs: one the host does not have, it does not have either.
  const executable = resolveCommand(program, cwd ?? '/', env.PATH);
  const { args, env: passed } = sandboxCommand(sandbox, { cwd, env, access: command.access, executable });
  yield* streamChild({
    argv: [bwrap, ...args, ...command.argv],
    cwd: cwd ?? homedir(),
    env: passed,
    input: command.input,
    timeoutMs: command.timeoutMs,
  });
}
