/** Checks made before spawning, so a bad cwd or command fails with a clear error instead of a dead session. */
import { accessSync, constants, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { TowerError } from '../protocol/index.js';

export function defaultShell(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SHELL) return env.SHELL;
  try {
    const shell = userInfo().shell;
    if (shell) return shell;
  } catch {
    // no passwd entry: fall through
  }
  return '/bin/sh';
}

/** `~` and `~/…` name the home directory (by default the daemon user's); `~user` is left alone. */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** The directory a session starts in (`~` expanded), checked to exist. */
export function checkCwd(cwd: string): string {
  const absolute = resolve(expandHome(cwd));
  let isDirectory = false;
  try {
    isDirectory = statSync(absolute).isDirectory();
  } catch {
    throw new TowerError('bad_cwd', `cwd does not exist: ${absolute}`);
  }
  if (!isDirectory) throw new TowerError('bad_cwd', `cwd is not a directory: ${absolute}`);
  return absolute;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Resolve a command the way execvp would, relative to the session's cwd and PATH. */
export function resolveCommand(command: string, cwd: string, path: string | undefined): string {
  if (command.includes('/')) {
    const absolute = isAbsolute(command) ? command : resolve(cwd, command);
    if (isExecutableFile(absolute)) return absolute;
    throw new TowerError('command_not_found', `command not found or not executable: ${command}`);
  }
  for (const dir of (path ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(isAbsolute(dir) ? dir : resolve(cwd, dir), command);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new TowerError('command_not_found', `command not found in PATH: ${command}`);
}
