/**
 * How an agent's hook runs `tower hook`: through $TOWER_HOOK, which the session host that runs the
 * session sets to its own Tower's command line (on a box: the box's Tower), so a hook names no path of
 * the machine that wrote it. `eval` reads the quoted words back, so paths with spaces stay whole. A
 * local session falls back to this Tower's own command line where $TOWER_HOOK is unset (a session host
 * from before it, a sandbox, which keeps only its base variables); a remote one has no Tower to fall
 * back to (a box whose sessions tmux keeps): it runs `withoutTower`, else reports nothing.
 */
import { TOWER_HOOK_ENV } from '../../sessions/environment.js';
import type { LaunchContext } from '../spec.js';
import { shellQuote } from './quote.js';

/**
 * A /bin/sh command that runs `tower hook <args>` (`args` is shell text, e.g. `codex "$1"`).
 * `readsStdin`: the agent writes the hook's JSON to it, so with no hook to run it is still read whole.
 */
export function towerHookShell(
  context: Pick<LaunchContext, 'remote' | 'hookCommand'>,
  args: string,
  options: { readsStdin: boolean; withoutTower?: string },
): string {
  const quoted = args.replace(/["\\$`]/g, '\\$&');
  const viaEnv = `[ -z "$${TOWER_HOOK_ENV}" ] || eval "exec $${TOWER_HOOK_ENV} ${quoted}"`;
  const otherwise = context.remote
    ? (options.withoutTower ?? `${options.readsStdin ? 'cat >/dev/null; ' : ''}exit 0`)
    : `exec ${context.hookCommand.map(shellQuote).join(' ')} ${args}`;
  return `${viaEnv}; ${otherwise}`;
}
