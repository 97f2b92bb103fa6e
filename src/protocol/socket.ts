/**
 * Every message of the Unix-socket protocol, both directions, in one place.
 * Types, validation and docs/PROTOCOL.md (npm run docs) all come from these schemas.
 *
 * Wire format: newline-delimited JSON, `type` in snake_case, fields in snake_case.
 * The message set is agor-pty's; Tower's extensions are optional fields and extra
 * message types that an agor-pty client never has to send and can ignore.
 */
import { z } from 'zod';
import { AgentClientMessages, AgentDaemonMessages, AgentErrorCodes } from './agents.js';
import { HostClientMessages, HostDaemonMessages, HostErrorCodes } from './host.js';
import {
  base64,
  cols,
  createSessionFields,
  reply,
  reqId,
  request,
  rows,
  sessionId,
  sessionName,
} from './message.js';
import { SESSION_EVENT_NAMES } from './names.js';
import { OutputGap, SessionInfo } from './session-info.js';
import { SubstrateClientMessages, SubstrateDaemonMessages, SubstrateErrorCodes } from './substrates.js';

export const MAX_LINE_BYTES = 1024 * 1024;

const offset = z.number().int().min(0);

export {
  JournalState,
  OutputGap,
  SessionInfo,
  SessionLink,
  SessionStatus,
} from './session-info.js';

// ---------------------------------------------------------------- client → daemon

export const AuthRequest = request(
  'auth',
  { token: z.string().describe('the hex token from <state-dir>/token') },
  'Must be the first message. Reply: auth_result. Three wrong tokens close the connection. Past a few ' +
    "wrong tokens, a wrong token's reply is delayed (and later requests wait for it); while too many " +
    'wait, auth is refused unchecked with error too_many_attempts and the connection closes.',
);

export const CreateSessionRequest = request(
  'create_session',
  {
    ...createSessionFields,
    runtime: z
      .string()
      .optional()
      .describe(
        'extension: an agent runtime (claude, codex, …; list_runtimes) instead of shell; checked by the credential gate',
      ),
    signal_key: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .optional()
      .describe(
        "extension: the key of the session's in-band status signals ($TOWER_SIGNAL_KEY), given by a Tower " +
          'that runs the session here: the signals are left in the output for it to take',
      ),
  },
  'Spawn a program on a new PTY. Reply: session_created.',
);

export const WriteInputRequest = request(
  'write_input',
  { session_id: sessionId, data: base64.describe('bytes to type, base64') },
  'Type bytes into the session.',
);

export const ResizeRequest = request(
  'resize',
  { session_id: sessionId, cols, rows },
  'Resize the PTY and the screen model.',
);

export const SubscribeRequest = request(
  'subscribe',
  {
    session_id: sessionId,
    from_offset: offset
      .optional()
      .describe(
        'extension: resume at this absolute offset; a snapshot comes first if it is no longer retained',
      ),
    snapshot: z
      .boolean()
      .optional()
      .describe('extension: begin with a snapshot, then bytes from its offset (attach)'),
    screen_only: z
      .boolean()
      .optional()
      .describe(
        'extension: with snapshot, that snapshot holds the visible screen only, no scrollback ' +
          '(to paint after older output replayed from read_output); later resyncs are whole',
      ),
    binary: z
      .boolean()
      .optional()
      .describe(
        'extension: output comes as binary frames (a NUL byte, then the session id, offset and raw bytes; ' +
          'see "Binary output frames") instead of base64 session_output lines',
      ),
  },
  'Receive session_output from now on (or from from_offset), then session_closed when the program ends. ' +
    'A subscriber that falls behind the in-memory ring is caught up from the journal on disk, every byte. One ' +
    'whose next byte is no longer retained (below first_offset, or lost on disk) is resynced: by a snapshot ' +
    'message if it gave from_offset or snapshot, otherwise by a session_output (without offset) that resets ' +
    'and redraws the screen.',
);

export const UnsubscribeRequest = request(
  'unsubscribe',
  { session_id: sessionId },
  'Stop receiving output of the session.',
);
export const CloseSessionRequest = request(
  'close_session',
  { session_id: sessionId },
  'Hang up the program (SIGHUP, SIGKILL after 2 s). Reply: session_closed once it has exited ' +
    '(to a subscriber, through its subscription, after the last output).',
);
export const ListSessionsRequest = request(
  'list_sessions',
  {},
  'Reply: session_list with every session: running, exited or lost.',
);
export const PingRequest = request('ping', {}, 'Reply: pong.');

export const GetSnapshotRequest = request(
  'get_snapshot',
  { session_id: sessionId },
  'Extension. Reply: snapshot, the screen as of an exact offset.',
);
export const ReadScreenRequest = request(
  'read_screen',
  { session_id: sessionId },
  'Extension. Reply: screen_text, the visible screen as plain text.',
);
export const ReadOutputRequest = request(
  'read_output',
  {
    session_id: sessionId,
    from_offset: offset.optional().describe('default: the earliest retained offset'),
    max_bytes: z
      .number()
      .int()
      .min(1)
      .max(512 * 1024)
      .optional()
      .describe('default 256 KiB'),
  },
  'Extension. Reply: output_chunk, raw journal bytes (from memory or disk).',
);
export const RemoveSessionRequest = request(
  'remove_session',
  { session_id: sessionId },
  'Extension. Forget an exited or lost session and its output. Reply: session_removed.',
);
export const RenameSessionRequest = request(
  'rename_session',
  { session_id: sessionId, name: sessionName.describe('the new display name; empty: no name') },
  'Extension. Give a session another display name (kept across restarts); watchers get a session_event ' +
    'renamed. Reply: ack.',
);
export const WatchSessionsRequest = request(
  'watch_sessions',
  {},
  'Extension. From now on, receive a session_event whenever a session is created, exits, is resized, renamed or removed, or its agent status changes.',
);

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
  RenameSessionRequest,
  WatchSessionsRequest,
  ...AgentClientMessages,
  ...HostClientMessages,
  ...SubstrateClientMessages,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_TYPES = ClientMessage.options.map((o) => o.shape.type.value);

// ---------------------------------------------------------------- daemon → client

const screenGeometry = {
  session_id: z.string(),
  offset: offset.describe('the screen is exact as of this output offset; output continues from here'),
  cols: z.number().int(),
  rows: z.number().int(),
  cursor_x: z.number().int().describe('0-based column'),
  cursor_y: z.number().int().describe('0-based row of the visible screen'),
};

export const DaemonMessage = z.discriminatedUnion('type', [
  reply('auth_result', { ok: z.boolean(), req_id: reqId }, 'Answer to auth.'),
  reply(
    'session_created',
    { session_id: z.string(), pid: z.number().int(), req_id: reqId },
    'Answer to create_session.',
  ),
  reply(
    'session_output',
    {
      session_id: z.string(),
      data: z.string().describe('raw output bytes, base64'),
      offset: offset
        .optional()
        .describe(
          'extension: absolute offset of the first byte; absent on a redraw (resync of an agor-pty client)',
        ),
    },
    'Output of a subscribed session.',
  ),
  reply(
    'session_closed',
    {
      session_id: z.string(),
      exit_code: z.number().int().nullable(),
      signal: z.number().int().nullable().optional().describe('extension: the signal that ended the program'),
      req_id: reqId,
    },
    'The program ended; every output byte was delivered before this.',
  ),
  reply('session_list', { sessions: z.array(SessionInfo), req_id: reqId }, 'Answer to list_sessions.'),
  reply('pong', { req_id: reqId }, 'Answer to ping.'),
  reply(
    'error',
    {
      message: z.string().describe('for people: says what was wrong'),
      code: z.string().optional().describe('extension: stable, one of the error codes below'),
      session_id: z.string().optional(),
      req_id: reqId,
    },
    'A request failed. The connection stays usable (except after repeated auth failures).',
  ),
  reply('ack', { req_id: reqId }, 'Extension: a request with req_id and no other reply succeeded.'),
  reply(
    'snapshot',
    {
      ...screenGeometry,
      alt_screen: z.boolean(),
      data: z
        .string()
        .describe(
          'ANSI that paints the screen, its modes and up to 1000 lines of scrollback into a fresh terminal',
        ),
      screen_only: z
        .boolean()
        .optional()
        .describe('extension: true when it holds the visible screen only (subscribe screen_only)'),
      req_id: reqId,
    },
    'Extension: the screen as of offset (answer to get_snapshot, or the start of a snapshot subscription).',
  ),
  reply(
    'screen_text',
    {
      ...screenGeometry,
      text: z.string().describe('visible rows, trailing spaces trimmed, joined by \\n'),
      bracketed_paste: z
        .boolean()
        .optional()
        .describe('extension: the program enabled bracketed paste (DECSET 2004)'),
      req_id: reqId,
    },
    'Extension: answer to read_screen.',
  ),
  reply(
    'output_chunk',
    {
      session_id: z.string(),
      offset,
      data: z.string().describe('raw bytes from offset, base64'),
      first_offset: offset,
      last_offset: offset,
      skipped: OutputGap.optional().describe(
        'from_offset lay in a gap: these bytes could not be read, and data starts at offset (its end)',
      ),
      req_id: reqId,
    },
    'Extension: answer to read_output. Read on until offset + bytes = last_offset. A chunk ends early at a ' +
      'gap; the next read from there reports it in skipped.',
  ),
  reply(
    'session_event',
    {
      event: z
        .enum(SESSION_EVENT_NAMES)
        .describe(
          'renamed: its name changed; journal: saving output to disk stopped or started working again',
        ),
      session: SessionInfo,
    },
    'Extension: sent after watch_sessions.',
  ),
  reply('session_removed', { session_id: z.string(), req_id: reqId }, 'Extension: answer to remove_session.'),
  ...AgentDaemonMessages,
  ...HostDaemonMessages,
  ...SubstrateDaemonMessages,
]);
export type DaemonMessage = z.infer<typeof DaemonMessage>;
export type DaemonMessageOf<T extends DaemonMessage['type']> = Extract<DaemonMessage, { type: T }>;

export const ErrorCode = z
  .enum([
    'bad_json',
    'bad_message',
    'too_large',
    'not_authenticated',
    'auth_failed',
    'too_many_attempts',
    'unknown_session',
    'session_exists',
    'session_not_running',
    'session_running',
    'bad_cwd',
    'command_not_found',
    'offset_not_retained',
    'input_full',
    'too_many_sessions',
    ...AgentErrorCodes,
    ...HostErrorCodes,
    ...SubstrateErrorCodes,
    'internal',
  ])
  .describe('Stable error codes carried in error.code.');
export type ErrorCode = z.infer<typeof ErrorCode>;
