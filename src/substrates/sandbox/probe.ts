/**
 * What the credential gate asks, answered from inside a sandbox made as the session's would be (the same
 * workspace, environment and access): which programs are on its PATH, which variables reach it, which
 * files it sees. Only names and yes or no come back, never a value.
 */
import { TowerError } from '../../protocol/index.js';
import { collect } from '../child.js';
import type { ProbeQuery, ProbeResult } from '../types.js';
import type { Sandbox } from './bwrap.js';
import { streamSandbox } from './exec.js';

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Arguments come in pairs, p NAME, v NAME or f FILE; it prints the index of each found (and a program's path). */
const SCRIPT = [
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

export async function probeSandbox(sandbox: Sandbox, query: ProbeQuery): Promise<ProbeResult> {
  const variables = query.variables.filter((name) => VARIABLE.test(name));
  const asked = [
    ...query.programs.flatMap((name) => ['p', name]),
    ...variables.flatMap((name) => ['v', name]),
    ...query.files.flatMap((file) => ['f', file]),
  ];
  const argv = ['/bin/sh', '-c', SCRIPT, 'probe', ...asked];
  const result = await collect(streamSandbox(sandbox, { ...query, argv, timeoutMs: 10_000 }), {
    argv,
    maxOutputBytes: 256 * 1024,
  });
  if (result.exit_code !== 0) {
    const said = result.stderr.toString('utf8').trim().split('\n')[0] ?? '';
    throw new TowerError(
      'substrate_unavailable',
      `cannot look inside substrate ${sandbox.settings.name}: ${said}`,
    );
  }
  const found = new Map<number, string>();
  let home = '';
  for (const line of result.stdout.toString('utf8').split('\n')) {
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
