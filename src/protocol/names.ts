/**
 * Wire atoms that the browser needs at run time as well as in types: defined here once, in a file that
 * imports nothing, so the web bundle can use them without zod.
 */

/** What a `session_event` (socket) or a session event on /api/events (web) says happened. */
export const SESSION_EVENT_NAMES = [
  'created',
  'exited',
  'removed',
  'resized',
  'status',
  'link',
  'renamed',
  'journal',
] as const;
export type SessionEventName = (typeof SESSION_EVENT_NAMES)[number];

/** Why output cannot be read from disk: never written (a full disk), damaged, or unreadable. */
export const OUTPUT_GAP_REASONS = ['not_saved', 'damaged', 'unreadable'] as const;

/**
 * Where a session on a substrate that hides the daemon's socket (a sandbox) finds its own hook socket:
 * `tower hook` sends its agent_signal there, without a token, for that session only.
 */
export const HOOK_SOCKET_ENV = 'TOWER_HOOK_SOCKET';
