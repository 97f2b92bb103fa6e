/**
 * The browser-facing wire shapes: HTTP bodies, WebSocket control messages, SSE events.
 * Socket-protocol shapes (SessionInfo and the rest) live in socket.ts.
 */
import { z } from 'zod';
import { SessionInfo } from './socket.js';

const dimension = z.number().int().min(1).max(1000);
const offset = z.number().int().min(0);

// ---------------------------------------------------------------- REST

export const ApiError = z
  .object({ error: z.string().describe('stable code'), message: z.string().describe('for people') })
  .describe('Every error response body.');

export const CreateSessionBody = z
  .object({
    runtime: z.string().optional().describe("'shell' (default) or another runtime once agents exist"),
    command: z.string().min(1).optional().describe("the program; default: the daemon user's shell"),
    args: z.array(z.string()).optional(),
    cwd: z.string().min(1).optional(),
    name: z.string().max(200).optional(),
    cols: dimension.optional(),
    rows: dimension.optional(),
  })
  .strict()
  .describe('POST /api/sessions (Agent Router): spawn a session.');

export const InputBody = z
  .object({
    data: z.string().optional().describe('text to type (UTF-8)'),
    data_base64: z.string().optional().describe('raw bytes to type'),
  })
  .strict()
  .refine((b) => (b.data === undefined) !== (b.data_base64 === undefined), {
    message: 'give exactly one of data or data_base64',
  })
  .describe('POST /api/sessions/:id/input');

export const ResizeBody = z.object({ cols: dimension, rows: dimension }).strict();

export const SessionResponse = z.object({ session: SessionInfo });
export const SessionListResponse = z.object({ sessions: z.array(SessionInfo) });
export const ScreenResponse = z.object({
  session_id: z.string(),
  offset,
  cols: z.number().int(),
  rows: z.number().int(),
  cursor_x: z.number().int(),
  cursor_y: z.number().int(),
  alt_screen: z.boolean().optional(),
  text: z.string().optional().describe('plain text (default)'),
  ansi: z.string().optional().describe('serialized screen, with ?format=ansi'),
});

// ---------------------------------------------------------------- WebSocket /ws/terminal/:id

/**
 * Binary frames from the server are output: an 8-byte header, the absolute offset of the first
 * byte as a big-endian unsigned 64-bit integer, then the raw bytes. Text frames are JSON.
 */
export const OUTPUT_FRAME_HEADER_BYTES = 8;

export const WsClientMessage = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('input'),
      seq: z.number().int().min(1).describe('per client id, increasing; a resent seq is applied once'),
      data: z.string().describe('text to type (UTF-8)'),
    })
    .describe('Typing. Refused for viewers.'),
  z.object({ type: z.literal('resize'), cols: dimension, rows: dimension }).describe('Claims the size.'),
  z
    .object({ type: z.literal('ack'), offset })
    .describe('The client has rendered output up to offset (send from the terminal write callback).'),
  z.object({ type: z.literal('snapshot') }).describe('Ask for a fresh snapshot (after a local reset).'),
]);
export type WsClientMessage = z.infer<typeof WsClientMessage>;

export const WsServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    session: SessionInfo,
    role: z.enum(['admin', 'viewer']),
    input_seq: z.number().int().describe('the last input seq applied for this client id (resend what follows)'),
  }),
  z.object({
    type: z.literal('snapshot'),
    offset,
    cols: z.number().int(),
    rows: z.number().int(),
    cursor_x: z.number().int(),
    cursor_y: z.number().int(),
    alt_screen: z.boolean(),
    data: z.string(),
  }),
  z.object({ type: z.literal('input_ack'), seq: z.number().int() }),
  z.object({
    type: z.literal('size'),
    cols: z.number().int(),
    rows: z.number().int(),
    owner: z.boolean().describe('whether this client owns the size'),
  }),
  z.object({ type: z.literal('exit'), exit_code: z.number().int().nullable(), signal: z.number().int().nullable() }),
  z.object({ type: z.literal('error'), error: z.string(), message: z.string() }),
]);
export type WsServerMessage = z.infer<typeof WsServerMessage>;

// ---------------------------------------------------------------- SSE

/** GET /api/sessions/:id/stream?offset=N — the stateless console contract (Agent Machines). */
export const ConsoleEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('started'), offset }),
  z.object({
    event: z.literal('output'),
    data: z.string().describe('UTF-8 text (decoded with a streaming decoder: characters are never split)'),
    bytes: z.number().int().describe('raw bytes this event covers'),
    offset: offset.describe('offset one past the last byte of this event: resume from here'),
  }),
  z.object({ event: z.literal('idle') }),
  z.object({ event: z.literal('error'), message: z.string() }),
]);
export type ConsoleEvent = z.infer<typeof ConsoleEvent>;
