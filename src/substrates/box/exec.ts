/**
 * A command on a box as an ordered, bounded stream of stdout/stderr/exit events: the same contract as
 * child.ts on this machine (exec-events.ts; a paused stream lets the link's flow control stop the
 * command writing); a consumer that stops early, or a timeout, kills it.
 */
import { constants } from 'node:os';
import { TowerError } from '../../protocol/index.js';
import { ExecEvents } from '../exec-events.js';
import type { ExecCommand, ExecEvent, Placement } from '../types.js';
import type { Box } from './types.js';

const DEFAULT_TIMEOUT_MS = 60_000;

export async function* streamBox(box: Box, command: ExecCommand): AsyncGenerator<ExecEvent> {
  if (command.argv.length === 0) throw new TowerError('bad_message', 'exec needs a program: argv is empty');
  const timeoutMs = command.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  await box.whenUp(timeoutMs);
  const child = await box.spawn(command.argv, { cwd: command.cwd, env: boxEnv(command) });
  let timedOut = false;
  let ended = false;
  const output = new ExecEvents([child.stdout, child.stderr]);
  // Kept to tell a program the box has not from one that exits 127 of its own accord.
  let stderrHead = '';
  child.stdout.on('data', output.take('stdout'));
  child.stderr.on('data', (data: Buffer) => {
    if (stderrHead.length < 1024) stderrHead += data.toString('utf8', 0, 1024);
  });
  child.stderr.on('data', output.take('stderr'));
  child.stdout.on('error', () => {});
  child.stderr.on('error', () => {});
  child.stdin.on('error', () => {});
  child.stdin.end(command.input);
  void child.exit.then(({ code, signal }) => {
    ended = true;
    const number = signal ? (constants.signals[`SIG${signal}` as NodeJS.Signals] ?? null) : null;
    output.exited({ type: 'exit', exit_code: code, signal: number, timed_out: timedOut });
  });
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill();
  }, timeoutMs);
  try {
    for await (const event of output.events()) {
      if (event.type === 'exit' && event.exit_code === 127 && notFound(command.argv[0]!, stderrHead)) {
        throw new TowerError('command_not_found', `command not found on ${box.name}: ${command.argv[0]}`);
      }
      yield event;
    }
  } finally {
    clearTimeout(timer);
    if (!ended) child.kill();
  }
}

/** The shell's own words for a program it cannot find (dash, bash, busybox; exec's ENOENT). */
function notFound(program: string, stderr: string): boolean {
  const name = program.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${name}: (not found|command not found|No such file or directory)`).test(stderr);
}

/**
 * What of a placement's environment crosses to a box: only the variables given for it on purpose (the
 * spawn's --env, its runtime's launch), never the daemon's own environment, not even the credentials
 * its runtime names (the box has its own; a key meant for it is given with the spawn).
 */
export function boxEnv(placement: Partial<Placement>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of placement.access?.givenEnv ?? []) {
    const value = placement.env?.[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
