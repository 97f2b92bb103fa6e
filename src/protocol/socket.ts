/**
 * Every message of the Unix-socket protocol, both directions, in one place.
 *
 * Wire format: newline-delimited JSON, `type` in snake_case, fields in snake_case.
 * The message set is agor-pty's; Tower's extensions are optional fields and extra
 * message types that an agor-pty client never has to send and can ignore.
 */
import { z } from 'zod';

export const MAX_LINE_BYTES = 1024 * 1024;

const sessionId = z.string().min(1).max(128);
const dimension = z.number().int().min(1).max(1000);
const offset = z.number().int().min(0);
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').refine((s) => s.length % 4 === 0, {
  message: 'must be base64 (length a multiple of 4)',
});
/** Optional request id (extension): echoed on the reply so a client can match replies to requests. */
const reqId = z.union([z.string().max(128), z.number().int()]).optional();

// ---------------------------------------------------------------- client → daemon

export const AuthRequest = z.object({ type: z.literal('auth'), token: z.string(), req_id: reqId });

export const CreateSessionRequest = z.object({
  type: z.literal('create_session'),
  /** agor-pty lets the client choose the id; Tower generates one when it is absent. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore')
    .optional(),
  /** The program to run (agor-pty's name for it); default: the user's shell. */
  shell: z.string().min(1).optional(),
  cwd: z.string().min(1).optional(),
  /** Kept in memory only: values may hold secrets. */
  env: z.record(z.string(), z.string()).optional(),
  cols: dimension.optional(),
  rows: dimension.optional(),
  name: z.string().max(200).optional(),
  args: z.array(z.string()).optional(),
  req_id: reqId,
});

export const WriteInputRequest = z.object({
  type: z.literal('write_input'),
  session_id: sessionId,
  data: base64,
  req_id: reqId,
});

export const ResizeRequest = z.object({
  type: z.literal('resize'),
  session_id: sessionId,
  cols: dimension,
  rows: dimension,
  req_id: reqId,
});

export const SubscribeRequest = z.object({
  type: z.literal('subscribe'),
  session_id: sessionId,
  /** Extension: resume from this absolute offset (bytes from there, or a snapshot if no longer held). */
  from_offset: offset.optional(),
  /** Extension: start with a `snapshot` message, then bytes from its offset (attach). */
  snapshot: z.boolean().optional(),
  req_id: reqId,
});

export const UnsubscribeRequest = z.object({ type: z.literal('unsubscribe'), session_id: sessionId, req_id: reqId });
export const CloseSessionRequest = z.object({
  type: z.literal('close_session'),
  session_id: sessionId,
  req_id: reqId,
});
export const ListSessionsRequest = z.object({ type: z.literal('list_sessions'), req_id: reqId });
export const PingRequest = z.object({ type: z.literal('ping'), req_id: reqId });

/** Extension: the screen as of an exact offset (serialized ANSI). */
export const GetSnapshotRequest = z.object({
  type: z.literal('get_snapshot'),
  session_id: sessionId,
  req_id: reqId,
});
/** Extension: the visible screen as plain text. */
export const ReadScreenRequest = z.object({
  type: z.literal('read_screen'),
  session_id: sessionId,
  req_id: reqId,
});
/** Extension: raw journal bytes from an offset. */
export const ReadOutputRequest = z.object({
  type: z.literal('read_output'),
  session_id: sessionId,
  from_offset: offset.optional(),
  max_bytes: z
    .number()
    .int()
    .min(1)
    .max(512 * 1024)
    .optional(),
  req_id: reqId,
});
/** Extension: forget an exited or lost session and its output. */
export const RemoveSessionRequest = z.object({
  type: z.literal('remove_session'),
  session_id: sessionId,
  req_id: reqId,
});
/** Extension: receive `session_event` messages for every session. */
export const WatchSessionsRequest = z.object({ type: z.literal('watch_sessions'), req_id: reqId });

export const ClientMessage = z.discriminatedUnion('type', [
  AuthRequest,
  CreateSessionRequest,
  WriteInputRequest,
  ResizeRequest,
  SubscribeRequest,
  UnsubscribeRequest,
  CloseSessionRequest,
  ListSessionsRequest,
  PingRequest,
  GetSnapshotRequest,
  ReadScreenRequest,
  ReadOutputRequest,
  RemoveSessionRequest,
  WatchSessionsRequest,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_TYPES = ClientMessage.options.map((o) => o.shape.type.value);

// ---------------------------------------------------------------- daemon → client

export const SessionStatus = z.enum(['running', 'exited', 'lost']);
export type SessionStatus = z.infer<typeof SessionStatus>;

export const SessionInfo = z.object({
  id: z.string(),
  name: z.string().nullable(),
  /** The program (agor-pty's field name). */
  shell: z.string(),
  args: z.array(z.string()),
  cwd: z.string(),
  cols: z.number().int(),
  rows: z.number().int(),
  pid: z.number().int().nullable(),
  status: SessionStatus,
  exit_code: z.number().int().nullable(),
  exit_signal: z.number().int().nullable(),
  created_at: z.string(),
  exited_at: z.string().nullable(),
  /** Earliest retained output offset. */
  first_offset: offset,
  /** Offset one past the last output byte. */
  last_offset: offset,
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const ScreenSnapshotFields = {
  session_id: z.string(),
  /** The screen is exact as of this output offset; output continues from here. */
  offset,
  cols: z.number().int(),
  rows: z.number().int(),
  cursor_x: z.number().int(),
  cursor_y: z.number().int(),
  alt_screen: z.boolean(),
  /** Serialized screen plus bounded scrollback, as ANSI for a fresh terminal. */
  data: z.string(),
};

export const DaemonMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth_result'), ok: z.boolean(), req_id: reqId }),
  z.object({ type: z.literal('session_created'), session_id: z.string(), pid: z.number().int(), req_id: reqId }),
  z.object({
    type: z.literal('session_output'),
    session_id: z.string(),
    data: z.string(),
    /** Extension: absolute offset of the first byte; absent on a redraw sent to a client that did not ask for snapshots. */
    offset: offset.optional(),
  }),
  z.object({
    type: z.literal('session_closed'),
    session_id: z.string(),
    exit_code: z.number().int().nullable(),
    /** Extension: the signal that ended the program, if any. */
    signal: z.number().int().nullable().optional(),
    req_id: reqId,
  }),
  z.object({ type: z.literal('session_list'), sessions: z.array(SessionInfo), req_id: reqId }),
  z.object({ type: z.literal('pong'), req_id: reqId }),
  z.object({
    type: z.literal('error'),
    message: z.string(),
    /** Extension: a stable machine-readable code. */
    code: z.string().optional(),
    session_id: z.string().optional(),
    req_id: reqId,
  }),
  // extensions
  z.object({ type: z.literal('ack'), req_id: reqId }),
  z.object({ type: z.literal('snapshot'), ...ScreenSnapshotFields, req_id: reqId }),
  z.object({
    type: z.literal('screen_text'),
    session_id: z.string(),
    offset,
    cols: z.number().int(),
    rows: z.number().int(),
    cursor_x: z.number().int(),
    cursor_y: z.number().int(),
    text: z.string(),
    req_id: reqId,
  }),
  z.object({
    type: z.literal('output_chunk'),
    session_id: z.string(),
    offset,
    data: z.string(),
    first_offset: offset,
    last_offset: offset,
    req_id: reqId,
  }),
  z.object({
    type: z.literal('session_event'),
    event: z.enum(['created', 'exited', 'removed', 'resized']),
    session: SessionInfo,
  }),
  z.object({ type: z.literal('session_removed'), session_id: z.string(), req_id: reqId }),
]);
export type DaemonMessage = z.infer<typeof DaemonMessage>;
export type DaemonMessageOf<T extends DaemonMessage['type']> = Extract<DaemonMessage, { type: T }>;

/** Stable error codes carried in `error.code`. */
export const ErrorCode = z.enum([
  'bad_json',
  'bad_message',
  'too_large',
  'not_authenticated',
  'auth_failed',
  'unknown_session',
  'session_exists',
  'session_not_running',
  'session_running',
  'bad_cwd',
  'command_not_found',
  'offset_not_retained',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;
