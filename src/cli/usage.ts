/**
 * How the CLI reports a command line it cannot run: one line saying what is wrong, one line with a
 * hint naming the command's help, exit code 2 — never the whole help. Errors from commander (a bad
 * flag, a missing argument, an unknown command) and the CLI's own UsageError look alike.
 */
import { type Command, CommanderError } from 'commander';
import { escapeControls } from './escape.js';

export const EXIT_USAGE = 2;

/** A command line that cannot work (`tower broadcast` without text, …). */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help the hint names, e.g. `tower broadcast`. */
    readonly command = 'tower',
    readonly suggestion = '',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Make commander throw (instead of printing and exiting) on every command, quietly. */
export function throwUsageErrors(program: Command): void {
  const visit = (command: Command) => {
    command.configureOutput({ outputError: () => {} });
    command.showHelpAfterError(false);
    command.exitOverride((error) => {
      // Help and --version were printed: exit 0. Help shown for a missing command: exit 2.
      if (error.exitCode === 0 || error.code === 'commander.help') throw error;
      const [first = error.message, ...rest] = error.message.split('\n');
      throw new UsageError(first.replace(/^error: /, ''), commandPath(command), rest.join(' ').trim());
    });
    for (const sub of command.commands) visit(sub);
  };
  visit(program);
}

/** The exit code for an error thrown by a command line; prints what the user needs to read. */
export function reportUsage(error: unknown): number | null {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  if (!(error instanceof UsageError)) return null;
  const suggestion = error.suggestion ? `${error.suggestion.replace(/^\((.*)\)$/, '$1')} ` : '';
  process.stderr.write(
    `tower: error: ${escapeControls(error.message)}\n` +
      `${escapeControls(suggestion)}Try '${error.command} --help'.\n`,
  );
  return EXIT_USAGE;
}
