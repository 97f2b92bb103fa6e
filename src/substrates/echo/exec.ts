/** A command "run" by the echo substrate: nothing runs; its stdout is its argv (spaces between, a newline), then its input. */
import { TowerError } from '../../protocol/index.js';
import type { ExecCommand, ExecEvent } from '../types.js';

export async function* streamEcho(command: ExecCommand): AsyncGenerator<ExecEvent> {
  if (command.argv.length === 0) throw new TowerError('bad_message', 'exec needs a program: argv is empty');
  yield { type: 'stdout', data: Buffer.from(`${command.argv.join(' ')}\n`) };
  if (command.input !== undefined && command.input.length > 0) {
    yield { type: 'stdout', data: Buffer.from(command.input) };
  }
  yield { type: 'exit', exit_code: 0, signal: null, timed_out: false };
}
