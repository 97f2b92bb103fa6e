/** Building blocks shared by every socket message schema. */
import { z } from 'zod';
import { MAX_COLS, MAX_ROWS } from './limits.js';

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
