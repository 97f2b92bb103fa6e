/** A command run to completion on the daemon's host (default: in the daemon user's home, with its environment). */
import { homedir } from 'node:os';
import { streamChild } from '../child.js';
import { checkCwd } from '../command.js';
import type { ExecCommand, ExecEvent } from '../types.js';

export async function* streamLocal(command: ExecCommand): AsyncGenerator<ExecEvent> {
  yield* streamChild({
    argv: command.argv,
    cwd: checkCwd(command.cwd ?? homedir()),
    env: command.env ?? (process.env as Record<string, string>),
    input: command.input,
    timeoutMs: command.timeoutMs,
  });
}
