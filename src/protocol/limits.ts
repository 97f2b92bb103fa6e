/**
 * Bounds shared by the daemon, its clients and the browser (this file imports nothing, so the web
 * bundle can use it without pulling in zod).
 *
 * A screen model costs memory per cell, scrollback included, so a hostile or mistaken resize must
 * not be able to ask for millions of cells.
 */
export const MAX_COLS = 500;
export const MAX_ROWS = 200;

/**
 * Input waiting for a program that is not reading it, per session. Past this, typing is refused with
 * `input_full` rather than held without bound (a 256 KiB prompt paste fits several times over).
 */
export const MAX_INPUT_QUEUE_BYTES = 1024 * 1024;

/**
 * A session id is a directory name under <state-dir>/sessions/: a letter or digit first (no `.`, `..`,
 * hidden names or option-like `-x`), then letters, digits, dot, dash or underscore; 64 at most.
 */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isSafeSessionId(id: string): boolean {
  return SESSION_ID_PATTERN.test(id);
}

/**
 * The largest WebSocket message the web server takes (on /ws/terminal/:id). A bigger frame is refused
 * from its header, before its payload is read: the socket closes with 1009 (message too big).
 */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

/**
 * The browser sends typed and pasted text in `input` messages of at most this many UTF-16 code units,
 * so that even escaped as JSON (6 bytes per unit at worst) each stays well under MAX_WS_MESSAGE_BYTES.
 */
export const MAX_INPUT_MESSAGE_CHARS = 64 * 1024;

/**
 * A server-sent event stream says something at least this often (a comment when there is nothing
 * else), so a reader can take a longer silence for a dead link: a relay reading a peer's stream does,
 * after SSE_SILENT_LINK_MS.
 */
export const SSE_KEEPALIVE_MS = 5_000;
export const SSE_SILENT_LINK_MS = 3 * SSE_KEEPALIVE_MS;
