/**
 * The session changes watchers hear of (socket `session_event`, the web's /api/events), named once
 * for the daemon, its clients and the browser (this file imports nothing, so the web bundle can use it).
 */
export const SESSION_EVENT_NAMES = ['created', 'exited', 'removed', 'resized', 'status', 'renamed'] as const;
export type SessionEventName = (typeof SESSION_EVENT_NAMES)[number];
