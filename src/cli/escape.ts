/**
 * Text that a program or another client controls (session names, cwd, arguments, prompts, excerpts,
 * error messages that echo input) must never reach the user's terminal raw: a name could set the
 * window title, clear the screen or write the clipboard (OSC 52). Everything the CLI prints as text
 * goes through `escapeControls`; only `tower logs` and `tower attach` pass a session's bytes on.
 */

/** C0 controls, DEL, C1 controls, and the bidirectional overrides that reorder what is shown. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function visible(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
}

/** The text with every control character shown as a visible escape (`\x1b`, `\r`, `\x9b`, `\u202e`). */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, visible);
}

/** Several lines of text: each line escaped, the line breaks kept. */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeControls).join('\n');
}

/**
 * JSON for a terminal: JSON.stringify already escapes C0 controls, but passes DEL, C1 and the
 * bidirectional overrides through. The result parses to the same value.
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
