/**
 * Bounds shared by the daemon, its clients and the browser (this file imports nothing, so the web
 * bundle can use it without pulling in zod).
 *
 * A screen model costs memory per cell, scrollback included, so a hostile or mistaken resize must
 * not be able to ask for millions of cells.
 */
export const MAX_COLS = 500;
export const MAX_ROWS = 200;
