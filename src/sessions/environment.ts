/**
 * The environment a session starts with: the daemon's own, minus what describes where the daemon was
 * started rather than where the session runs, plus what Tower sets, plus what the spawn asked for.
 *
 * Without this an agent started from a daemon running inside tmux believes it runs in the user's tmux
 * (and `tmux` typed in a Tower shell acts on the user's server); under `npm start` every session would
 * get Tower's own node_modules/.bin on its PATH.
 */
import { fileURLToPath } from 'node:url';
import { SIGNAL_KEY_ENV } from '../protocol/inband-signal.js';
import { shellQuote } from '../substrates/box/quote.js';

/** Where an agent's hooks find `tower hook`: the command line of the Tower that runs the session. */
export const TOWER_HOOK_ENV = 'TOWER_HOOK';
const TOWER_BIN = fileURLToPath(new URL('../../bin/tower.js', import.meta.url));

/** The terminal or multiplexer the daemon was started from, a service manager's plumbing, CI markers. */
const DROPPED = new Set([
  'TMUX',
  'TMUX_PANE',
  'STY',
  'WINDOW',
  'TERM_PROGRAM',
  'TERM_PROGRAM_VERSION',
  'TERM_SESSION_ID',
  'TERMINAL_EMULATOR',
  'COLORFGBG',
  'COLUMNS',
  'LINES',
  'WT_SESSION',
  'WT_PROFILE_ID',
  'ITERM_SESSION_ID',
  'ITERM_PROFILE',
  'KITTY_WINDOW_ID',
  'KITTY_PID',
  'KITTY_LISTEN_ON',
  'WEZTERM_PANE',
  'WEZTERM_UNIX_SOCKET',
  'ALACRITTY_WINDOW_ID',
  'ALACRITTY_SOCKET',
  'KONSOLE_VERSION',
  'KONSOLE_DBUS_SESSION',
  'KONSOLE_DBUS_WINDOW',
  'VTE_VERSION',
  'GNOME_TERMINAL_SCREEN',
  'GNOME_TERMINAL_SERVICE',
  'NOTIFY_SOCKET',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  'INVOCATION_ID',
  'JOURNAL_STREAM',
  'WATCHDOG_PID',
  'WATCHDOG_USEC',
  'CI',
  'INIT_CWD',
]);
/** Tower's own settings, npm's lifecycle variables, an editor's terminal integration. */
const DROPPED_PREFIXES = ['TOWER_', 'npm_', 'VSCODE_'];
/** What npm puts in front of PATH for a script: the package's and its parents' bins, node-gyp's. */
const NPM_PATH_ENTRY = /(?:\/node_modules\/\.bin|\/node-gyp-bin)\/?$/;

/**
 * The environment for a new session. `given`: the spawn's own variables, which win over everything but
 * what Tower sets for the session itself: TOWER_SESSION_ID, TOWER_STATE_DIR so that `tower` run
 * inside a session reaches the daemon that runs it, the key of its in-band status signals, and
 * TOWER_HOOK, the hook program of this Tower (on a box: the box's own), for hook commands that must
 * name no path of the machine that wrote them.
 */
export function sessionEnvironment(
  daemon: NodeJS.ProcessEnv,
  given: Record<string, string> | undefined,
  tower: { sessionId: string; stateDir: string; signalKey?: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(daemon)) {
    if (value === undefined || DROPPED.has(name)) continue;
    if (DROPPED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    env[name] = value;
  }
  if (env.PATH !== undefined && daemon.npm_lifecycle_event !== undefined) env.PATH = withoutNpmBins(env.PATH);
  if (env.LANG === undefined && env.LC_ALL === undefined) env.LANG = 'C.UTF-8';
  return {
    ...env,
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    ...given,
    TOWER_SESSION_ID: tower.sessionId,
    TOWER_STATE_DIR: tower.stateDir,
    [TOWER_HOOK_ENV]: towerHookCommand(tower.stateDir),
    ...(tower.signalKey ? { [SIGNAL_KEY_ENV]: tower.signalKey } : {}),
  };
}

/**
 * `tower hook` of this process's Tower, quoted for /bin/sh: hooks run it as `eval "exec $TOWER_HOOK …"`,
 * which keeps paths with spaces or quotes whole.
 */
export function towerHookCommand(stateDir: string): string {
  return shellQuote([process.execPath, TOWER_BIN, '--state-dir', stateDir, 'hook']);
}

function withoutNpmBins(path: string): string {
  const entries = path.split(':');
  while (entries.length > 1 && NPM_PATH_ENTRY.test(entries[0]!)) entries.shift();
  return entries.join(':');
}
