/** Building blocks shared by every socket message schema. */
import { z } from 'zod';
import { MAX_COLS, MAX_ROWS, SESSION_ID_PATTERN } from './limits.js';

export const sessionId = z.string().min(1).max(128);

export const cols = z.number().int().min(1).max(MAX_COLS);
export const rows = z.number().int().min(1).max(MAX_ROWS);
export const reqId = z
  .union([z.string().max(128), z.number().int()])
  .optional()
  .describe('extension: echoed on the reply (or on an `ack` where the request has none)');

export const request = <T extends string, S extends z.ZodRawShape>(type: T, shape: S, doc: string) =>
  z.object({ type: z.literal(type), ...shape, req_id: reqId }).describe(doc);

export const reply = <T extends string, S extends z.ZodRawShape>(type: T, shape: S, doc: string) =>
  z.object({ type: z.literal(type), ...shape }).describe(doc);

export const sessionName = z.string().max(200, 'a session name is at most 200 characters');
export const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .refine((s) => s.length % 4 === 0, { message: 'must be base64 (length a multiple of 4)' });

export const substrateName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,31}$/,
    'must be a substrate name like "box" (lowercase letters, digits, - and _)',
  );

/** What create_session and the control plane's host_create_session share. */
export const createSessionFields = {
  id: z
    .string()
    .regex(
      SESSION_ID_PATTERN,
      'must start with a letter or digit, then up to 63 letters, digits, dot, dash or underscore',
    )
    .optional()
    .describe('chosen by the client (agor-pty); generated when absent'),
  shell: z.string().min(1).optional().describe("the program to run; default: the user's shell"),
  cwd: z
    .string()
    .min(1)
    .optional()
    .describe("working directory (`~` and `~/…`: the daemon user's home); default: that home"),
  env: z
    .record(z.string(), z.string())
    .optional()
    .describe('added to the environment; kept in memory only, never stored (values may hold secrets)'),
  cols: cols.optional().describe('default 80'),
  rows: rows.optional().describe('default 24'),
  name: sessionName.optional().describe('extension: a display name'),
  args: z
    .array(z.string())
    .optional()
    .describe("extension: arguments for the program (with runtime: added after the runtime's own)"),
  substrate: substrateName
    .optional()
    .describe('extension: where the program runs (list_substrates); default local'),
};

/** The req_id of a message that may not be valid, so that even an error about it can carry it. */
export function reqIdOf(raw: unknown): string | number | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const reqId = (raw as { req_id?: unknown }).req_id;
  return typeof reqId === 'string' || typeof reqId === 'number' ? reqId : undefined;
}
