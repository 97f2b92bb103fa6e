/**
 * The credential gate's question as one POSIX `sh` script, for substrates that answer it inside
 * (sandbox, boxes): which programs are on PATH, which variables are set, which files exist. Only names
 * and yes or no come back, never a value.
 */
import type { ProbeQuery, ProbeResult } from './types.js';

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Arguments come in pairs, p NAME, v NAME or f FILE; it prints the index of each found (and a program's path). */
export const PROBE_SCRIPT = [
  'i=0',
  'while [ $# -gt 1 ]; do',
  '  kind=$1 name=$2',
  '  shift 2',
  '  case $kind in',
  '    p) if found=$(command -v -- "$name" 2>/dev/null); then printf "p %d %s\\n" "$i" "$found"; fi ;;',
  '    v) eval "value=\\$$name"; [ -n "$value" ] && printf "v %d\\n" "$i" ;;',
  '    f) case $name in "~") name=$HOME ;; "~/"*) name=$HOME/$(printf %s "$name" | cut -c3-) ;; esac',
  '       [ -e "$name" ] && printf "f %d\\n" "$i" ;;',
  '  esac',
  '  i=$((i + 1))',
  'done',
  'printf "h %s\\n" "$HOME"',
].join('\n');

/** The script's arguments for a query (variable names that could not be one are not asked). */
export function probeArguments(query: ProbeQuery): string[] {
  return [
    ...query.programs.flatMap((name) => ['p', name]),
    ...query.variables.filter((name) => VARIABLE.test(name)).flatMap((name) => ['v', name]),
    ...query.files.flatMap((file) => ['f', file]),
  ];
}

export function readProbe(query: ProbeQuery, output: string): ProbeResult {
  const variables = query.variables.filter((name) => VARIABLE.test(name));
  const found = new Map<number, string>();
  let home = '';
  for (const line of output.split('\n')) {
    const [kind, index, ...rest] = line.split(' ');
    if (kind === 'h') home = [index, ...rest].join(' ');
    else if (kind) found.set(Number(index), rest.join(' '));
  }
  const at = (offset: number) => (index: number) => found.get(offset + index);
  const program = at(0);
  const variable = at(query.programs.length);
  const file = at(query.programs.length + variables.length);
  return {
    home,
    programs: Object.fromEntries(query.programs.map((name, i) => [name, absolute(program(i))])),
    variables: Object.fromEntries(
      query.variables.map((name) => [
        name,
        variables.includes(name) && variable(variables.indexOf(name)) !== undefined,
      ]),
    ),
    files: Object.fromEntries(query.files.map((name, i) => [name, file(i) !== undefined])),
  };
}

/** `command -v` names a shell builtin by its name alone: only a path is a program. */
function absolute(path: string | undefined): string | null {
  return path?.startsWith('/') ? path : null;
}
