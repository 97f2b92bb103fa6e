/**
 * What is kept about a session besides its output, and its copy beside the journal (`meta.json`), from
 * which the session list is rebuilt when tower.db is damaged or lost. One schema checks both the
 * database's rows and those files, so nothing malformed reaches the API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LOCAL_SUBSTRATE, SessionStatus } from '../protocol/index.js';
import { MAX_COLS, MAX_ROWS } from '../protocol/limits.js';

const SIDECAR = 'meta.json';

function dimension(max: number) {
  return z
    .number()
    .int()
    .transform((value) => Math.min(Math.max(value, 1), max));
}

export const SessionMetaSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  command: z.string(),
  args: z.array(z.string()),
  cwd: z.string(),
  // Clamped, not refused: a size stored out of bounds must not cost a screen model gigabytes.
  cols: dimension(MAX_COLS),
  rows: dimension(MAX_ROWS),
  pid: z.number().int().nullable(),
  status: SessionStatus,
  exitCode: z.number().int().nullable(),
  exitSignal: z.number().int().nullable(),
  createdAt: z.string(),
  exitedAt: z.string().nullable(),
  /** The agent runtime it was spawned as; null for a plain command. */
  runtime: z.string().nullable(),
  resumedFrom: z.string().nullable(),
  /** Where it runs; absent in what older versions stored: they ran everything locally. */
  substrate: z
    .string()
    .nullish()
    .transform((name) => name ?? LOCAL_SUBSTRATE),
  /**
   * Sessions on another machine only: the key of their in-band status signals, kept so that a host
   * that reattaches them after a restart still takes the signals out (the file is the user's, 0600).
   */
  signalKey: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .nullish()
    .transform((key) => key ?? null),
});
export type SessionMeta = z.infer<typeof SessionMetaSchema>;

/** Write `meta.json` beside the journal (aside, then renamed: never torn). Returns the error, if any. */
export function writeSidecar(dir: string, meta: SessionMeta): Error | null {
  const file = path.join(dir, SIDECAR);
  const temporary = `${file}.tmp`;
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(meta)}\n`, { mode: 0o600 });
    fs.renameSync(temporary, file);
    return null;
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    return error as Error;
  }
}

/** The session described beside a journal, or why there is none usable. */
export function readSidecar(dir: string): SessionMeta | string {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SIDECAR), 'utf8');
  } catch {
    return `no ${SIDECAR}`;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `${SIDECAR} is not JSON`;
  }
  const parsed = SessionMetaSchema.safeParse(value);
  return parsed.success ? parsed.data : `${SIDECAR} is malformed`;
}

/** Whether a directory holds any output segment. */
export function hasOutput(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((name) => name.endsWith('.seg'));
  } catch {
    return false;
  }
}
