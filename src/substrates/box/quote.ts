import { TowerError } from '../../protocol/index.js';

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** argv as one POSIX shell command line, for links that take a string (SSH's exec request). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(quoteWord).join(' ');
}

export function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_\-.,:/=@%+]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `cd DIR && exec env K=V … argv`: cwd and environment on a link that carries only a command line. */
export function commandLine(argv: readonly string[], cwd?: string, env?: Record<string, string>): string {
  const assignments = Object.entries(env ?? {}).map(([key, value]) => {
    if (!VARIABLE.test(key))
      throw new TowerError('bad_message', `not a variable name: ${JSON.stringify(key)}`);
    return `${key}=${value}`;
  });
  const program = assignments.length > 0 ? ['env', ...assignments, ...argv] : [...argv];
  const run = `exec ${shellQuote(program)}`;
  return cwd ? `cd ${quoteWord(cwd)} && ${run}` : run;
}
