/** The daemon's defaults that `tower serve` shows in its help (a light module: no PTY, no SQLite). */
export const DEFAULT_JOURNAL_BUDGET_BYTES = 2 * 1024 * 1024 * 1024;
export const DEFAULT_MAX_SESSIONS = 64;
