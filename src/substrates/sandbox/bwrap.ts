/**
 * The bubblewrap command line of one sandboxed program. It sees the system read-only, its working
 * directory read-write, a /tmp of its own; not the user's homes, /tmp, /run or Tower's state dir (the
 * token, tower.db, every session's journal), except what its session is let through (SessionAccess):
 * the runtime's credential files (read-only), the files Tower wrote for it. Its
 * environment keeps only a neutral base, the variables given for the session and the runtime's
 * credential variables. Programs installed under a hidden directory (on PATH, or the program itself)
 * are shown read-only where they live.
 */
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, resolve } from 'node:path';
import { SIGNAL_KEY_ENV } from '../../protocol/inband-signal.js';
import { TowerError } from '../../protocol/index.js';
import { expandHome } from '../command.js';
import { NO_ACCESS, type SessionAccess, type SubstrateContext } from '../types.js';

export interface SandboxSettings {
  name: string;
  /** false: a network namespace of its own, with only a loopback device of its own. */
  network: boolean;
  /** Host paths shown read-only besides the system (`~/…`: the daemon user's home). */
  expose: string[];
}

export interface Sandbox {
  settings: SandboxSettings;
  context: SubstrateContext;
  /** The bwrap program, once it is known to work here; throws `substrate_unavailable` otherwise. */
  bwrap(): Promise<string>;
}

export interface SandboxView {
  /** Its workspace, read-write; null: none (it starts in its own /tmp). */
  cwd: string | null;
  /** The environment it would get on the host. */
  env: Record<string, string>;
  access?: SessionAccess;
  /** The program, resolved on the host, so that where it lives is shown. */
  executable: string | null;
}

/** Variables every sandboxed program keeps (with LC_*): nothing in them is the user's. */
const BASE_ENV = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TERM',
  'COLORTERM',
  'TOWER_SESSION_ID',
  SIGNAL_KEY_ENV,
]);
/**
 * Every sandbox's start: no capabilities, the host read-only, a /dev and a /proc of its own, whose
 * kernel settings stay read-only (uid 0 may write /proc/sys without any capability).
 */
export const ISOLATION = [
  ...['--cap-drop', 'ALL', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'],
  ...[
    '--ro-bind-try',
    '/proc/sys',
    '/proc/sys',
    '--ro-bind-try',
    '/proc/sysrq-trigger',
    '/proc/sysrq-trigger',
  ],
];
/** Hidden behind an empty tmpfs of the sandbox's own (with the user's homes and Tower's state dir). */
const HIDDEN = ['/home', '/root', '/tmp', '/var/tmp', '/run'];

export function sandboxEnv(env: Record<string, string>, access: SessionAccess): Record<string, string> {
  const passed = new Set([...BASE_ENV, ...access.givenEnv, ...access.credentialEnv]);
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => passed.has(name) || name.startsWith('LC_')),
  );
}

/** bwrap's arguments up to the program (`--`), and the environment to start it with. */
export function sandboxCommand(
  sandbox: Sandbox,
  view: SandboxView,
): { args: string[]; env: Record<string, string> } {
  const access = view.access ?? NO_ACCESS;
  const state = realOrNull(sandbox.context.stateDir);
  const inState = (path: string) => state !== null && inside(path, state);
  const cwd = view.cwd === null ? null : realOrNull(view.cwd);
  if (cwd === '/') {
    throw new TowerError(
      'bad_cwd',
      `a sandbox's working directory cannot be / (all of it would be writable)`,
    );
  }
  if (cwd !== null && inState(cwd)) {
    throw new TowerError(
      'bad_cwd',
      `${view.cwd} is inside Tower's state directory, which a sandbox never sees`,
    );
  }
  const home = view.env.HOME || homedir();
  const hidden = outermost(
    [...HIDDEN, homedir(), process.env.HOME ?? '', home].map(realOrNull).filter(isDirectory),
  );
  const shown = (path: string) => !hidden.some((root) => inside(path, root));
  const readOnly = [
    ...programDirs(view, shown),
    ...sandbox.settings.expose.map((path) => expandHome(path, homedir())),
    ...access.credentialFiles.map((file) => expandHome(file, home)),
  ]
    .map(binding)
    .filter((bind): bind is Bind => bind !== null);
  const made = access.readOnly.map(binding).filter((bind): bind is Bind => bind !== null);
  const touchesState = (bind: Bind) => inState(bind.source) || inState(bind.dest);
  const resolv = realOrNull('/etc/resolv.conf');
  const args = [
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-cgroup-try',
    ...(sandbox.settings.network ? [] : ['--unshare-net']),
    ...ISOLATION,
    ...hidden.flatMap((root) => ['--tmpfs', root]),
    // A resolver configuration that lives under /run (systemd-resolved) is the system's, not the user's.
    ...(resolv && !shown(resolv) && !inState(resolv) ? ['--ro-bind-try', resolv, resolv] : []),
    ...mounts(
      '--ro-bind-try',
      [...readOnly, ...made].filter((bind) => !touchesState(bind)),
    ),
    ...(cwd === null ? [] : ['--bind', cwd, cwd]),
    // After everything shown above (a workspace, an exposed directory holding it), so none shows it.
    ...(state !== null ? ['--tmpfs', state] : []),
    // Then only what Tower made for this session inside it: its hook settings.
    ...mounts('--ro-bind-try', made.filter(touchesState)),
    '--chdir',
    cwd ?? '/tmp',
    '--',
  ];
  return { args, env: sandboxEnv(view.env, access) };
}

/** A host path shown at the path it is named by (its real path read, so a link to it works too). */
interface Bind {
  source: string;
  dest: string;
}

function binding(path: string): Bind | null {
  const source = realOrNull(path);
  return source === null ? null : { source, dest: resolve(path) };
}

function mounts(option: string, binds: Bind[]): string[] {
  const seen = new Set<string>();
  return binds.flatMap(({ source, dest }) => {
    if (seen.has(dest)) return [];
    seen.add(dest);
    return [option, source, dest];
  });
}

/**
 * Where programs live when a hidden directory holds them: PATH entries, and the program's own
 * directory. A directory inside node_modules stands for the whole node_modules (its links and
 * packages point across it).
 */
function programDirs(view: SandboxView, shown: (path: string) => boolean): string[] {
  const dirs: string[] = [];
  for (const entry of (view.env.PATH ?? '').split(delimiter)) {
    const real = isAbsolute(entry) ? realOrNull(entry) : null;
    if (real && isDirectory(real) && !shown(real)) dirs.push(packageRoot(entry));
  }
  const program = view.executable ? realOrNull(view.executable) : null;
  if (program && !shown(program)) dirs.push(packageRoot(dirname(program)));
  return dirs;
}

function packageRoot(dir: string): string {
  const marker = '/node_modules';
  const at = `${dir}/`.indexOf(`${marker}/`);
  return at === -1 ? dir : dir.slice(0, at + marker.length);
}

export function inside(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(`${root}/`);
}

/** Each directory once, parents before children, those inside another dropped (and never /). */
function outermost(paths: string[]): string[] {
  const sorted = unique(paths)
    .filter((path) => path !== '/')
    .sort((a, b) => a.length - b.length);
  return sorted.filter((path, index) => !sorted.slice(0, index).some((root) => inside(path, root)));
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}

function realOrNull(path: string): string | null {
  if (!path || !isAbsolute(path)) return null;
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function isDirectory(path: string | null): path is string {
  if (path === null) return false;
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
