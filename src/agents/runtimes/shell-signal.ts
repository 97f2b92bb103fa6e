/**
 * A hook command that reports in-band without starting Node: a printf of the signal to the session's
 * terminal, a few milliseconds where `tower hook` costs Node's start (~200 ms on a loaded 2-core
 * machine) on every tool call, while the agent waits for it. Only for hook events whose reading needs
 * nothing but the event and the tool's name (an identifier, found in the hook's JSON with grep);
 * events whose payload is free text to pick and bound run `tower hook`, and so does every event where
 * the session host takes no in-band signals ($TOWER_SIGNAL_KEY unset: `fallback`, a shell command). It
 * always exits 0 and prints nothing: a Claude Code hook that exits 2 blocks the tool call.
 */
import { SIGNAL_KEY_ENV, SIGNAL_OSC } from '../../protocol/inband-signal.js';

/** The first "tool_name" of the hook's JSON: a key, since a string's own quotes are escaped in JSON. */
const TOOL_NAME = `tool=$(grep -o '"tool_name":"[A-Za-z0-9_.:-]*"' | sed -n '1{s/^"tool_name":"//;s/"$//;p;}' | cut -c 1-128)`;

/**
 * The controlling terminal, else the agent's (Claude Code starts its hooks in a session of their own,
 * without one); opened only when it is a device (opening a FIFO could block) and written to only when
 * it is a terminal.
 */
const TERMINAL = 'tty=/dev/tty; { true >/dev/tty; } 2>/dev/null || tty=/proc/$PPID/fd/1';

export function shellSignalCommand(
  source: string,
  event: string,
  options: { withTool: boolean; fallback: string },
): string {
  if (!/^[A-Za-z0-9_-]+$/.test(source + event)) throw new Error(`not a plain name: ${source} ${event}`);
  const payload = options.withTool ? '{"tool_name":"%s"}' : '{}';
  const body = `{"source":"${source}","event":"${event}","payload":${payload}}`;
  const args = options.withTool ? `"$${SIGNAL_KEY_ENV}" "$tool"` : `"$${SIGNAL_KEY_ENV}"`;
  const write = `printf '\\033]${SIGNAL_OSC};%s;${body}\\007' ${args} >&3`;
  return [
    `if [ -z "$${SIGNAL_KEY_ENV}" ]; then ${options.fallback}; exit 0; fi`,
    // All of stdin is read, so the agent never writes to a closed pipe.
    options.withTool ? TOOL_NAME : 'cat >/dev/null',
    TERMINAL,
    `[ -c "$tty" ] && { [ -t 3 ] && ${write}; } 2>/dev/null 3>"$tty"`,
    'exit 0',
  ].join('; ');
}
