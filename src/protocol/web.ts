/**
 * The browser-facing wire shapes: HTTP bodies, WebSocket control messages, SSE events.
 * Socket-protocol shapes (SessionInfo and the rest) live in socket.ts.
 */
import { z } from 'zod';
import { AttentionEvent, DispatchFields, PromptInfo, promptText, RuntimeInfo } from './agents.js';
import { peerName } from './federation.js';
import { cols, rows } from './message.js';
import { SESSION_EVENT_NAMES } from './names.js';
import { SessionInfo } from './socket.js';
import { BootstrapEvent, BootstrapState, SubstrateInfo, substrateName } from './substrates.js';

export { AttentionEvent, BootstrapState, PromptInfo, RuntimeInfo, SubstrateInfo };

const offset = z.number().int().min(0);

// ---------------------------------------------------------------- REST

export const ApiError = z
  .object({ error: z.string().describe('stable code'), message: z.string().describe('for people') })
  .describe('Every error response body.');

export const CreateSessionBody = z
  .object({
    runtime: z
      .string()
      .min(1)
      .optional()
      .describe(
        'a runtime from GET /api/runtimes (default: shell); checked by the credential gate (409 runtime_blocked)',
      ),
    command: z
      .string()
      .min(1)
      .optional()
      .describe("a plain program instead of a runtime; default: the daemon user's shell"),
    args: z
      .array(z.string())
      .optional()
      .describe("arguments of the command, or extra arguments after the runtime's own"),
    cwd: z
      .string()
      .min(1)
      .optional()
      .describe("working directory (`~` and `~/…`: the daemon user's home); default: that home"),
    name: z.string().max(200).optional(),
    cols: cols.optional(),
    rows: rows.optional(),
    substrate: substrateName
      .optional()
      .describe('where it runs: a substrate from GET /api/substrates (default: local)'),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a variable name'), z.string().max(4096))
      .refine((env) => Object.keys(env).length <= 64, 'at most 64 variables')
      .optional()
      .describe('added to its environment; kept in memory only, never stored (values may hold secrets)'),
  })
  .strict()
  .refine((b) => b.runtime === undefined || b.command === undefined, {
    message: 'give either runtime or command, not both',
  })
  .describe('POST /api/sessions (Agent Router): spawn a runtime or a program.');

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

export const ResizeBody = z.object({ cols, rows }).strict();

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
  z.object({ type: z.literal('resize'), cols, rows }).describe('Claims the size.'),
  z
    .object({ type: z.literal('ack'), offset })
    .describe('The client has rendered output up to offset (send from the terminal write callback).'),
  z
    .object({
      type: z.literal('snapshot'),
      screen_only: z
        .boolean()
        .optional()
        .describe(
          'the visible screen only, no scrollback: to paint after older output replayed from the journal',
        ),
    })
    .describe('Ask for a fresh snapshot (after a local reset); output continues from its offset.'),
]);
export type WsClientMessage = z.infer<typeof WsClientMessage>;

export const WsServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    session: SessionInfo,
    role: z.enum(['admin', 'viewer']),
    input_seq: z
      .number()
      .int()
      .describe('the last input seq applied for this client id (resend what follows)'),
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
    screen_only: z.boolean().optional().describe('true: the visible screen only, as asked for'),
  }),
  z.object({ type: z.literal('input_ack'), seq: z.number().int() }),
  z.object({
    type: z.literal('size'),
    cols: z.number().int(),
    rows: z.number().int(),
    owner: z.boolean().describe('whether this client owns the size'),
  }),
  z.object({
    type: z.literal('exit'),
    exit_code: z.number().int().nullable(),
    signal: z.number().int().nullable(),
  }),
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

// ---------------------------------------------------------------- REST: login, runtimes, queries

export const LoginBody = z
  .object({ token: z.string().describe('the admin token (<state-dir>/token) or the viewer token') })
  .strict()
  .describe('POST /api/login: trade a token for an HttpOnly session cookie.');
export const LoginResponse = z.object({ role: z.enum(['admin', 'viewer']) });
export const HealthResponse = z.object({ ok: z.literal(true) });
export const OkResponse = z.object({ ok: z.literal(true) });

export const LogoutResponse = OkResponse;
export const RuntimeListResponse = z.array(RuntimeInfo);
export const SubstrateListResponse = z.object({
  substrates: z.array(SubstrateInfo),
  config_error: z.string().nullable().describe('what is wrong in substrates.json, if anything'),
});

export const BootstrapBody = z
  .object({
    force: z.boolean().optional().describe('run the phases that are done again'),
    runtimes: z
      .array(z.string().max(64))
      .max(16)
      .optional()
      .describe('agent runtimes the box should run (claude, …): their CLI and credentials are checked'),
  })
  .strict()
  .describe('POST /api/substrates/:name/bootstrap');
export const BootstrapStateResponse = z.object({ state: BootstrapState });

/** The SSE events of a bootstrap, each named by its `type`. */
export const BootstrapStreamEvent = z
  .union([
    BootstrapEvent,
    z.object({ type: z.literal('result'), state: BootstrapState, joined: z.boolean() }),
    z.object({ type: z.literal('error'), message: z.string() }).describe('then the stream ends'),
  ])
  .describe(
    'phase: a phase changed state; output: a line it wrote; result: the end; error: it could not run',
  );
export type BootstrapStreamEvent = z.infer<typeof BootstrapStreamEvent>;

// ---------------------------------------------------------------- REST: agents

export const PromptBody = z
  .object({ text: promptText.describe('the prompt; newlines are kept (sent as a bracketed paste)') })
  .strict()
  .describe('POST /api/sessions/:id/prompt: type a prompt and submit it, verified; queued while busy.');
export const PromptResponse = z.object({ prompt: PromptInfo });
export const PromptListResponse = z.object({ prompts: z.array(PromptInfo) });

export const DispatchBody = z
  .object({
    ...DispatchFields,
    fleet: z
      .boolean()
      .optional()
      .describe('also peers: an idle agent there, or room to start one, when none fits here'),
    peer: peerName.optional().describe('on this peer (its own dispatch chooses there)'),
  })
  .strict()
  .describe('POST /api/dispatch: send to an idle session of the runtime, or spawn one.');
export const DispatchResponse = z.object({
  session_id: z.string().describe('PEER/ID when it went to a peer'),
  spawned: z.boolean().describe('a new session was started for it'),
  prompt: PromptInfo,
  peer: z.string().nullable().optional().describe('the peer it went to; null: here'),
  reason: z.string().optional().describe('why there'),
});

export const RestartBody = z
  .object({
    resume: z.boolean().optional().describe("default true: relaunch with the runtime's resume flag"),
  })
  .strict()
  .describe('POST /api/sessions/:id/restart: relaunch in the same cwd (ending it first if it runs).');
export const RestartResponse = z.object({
  session_id: z.string().describe('the new session'),
  session: SessionInfo,
});

const wholeNumber = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number);

export const DeleteSessionQuery = z.object({
  remove: z.enum(['0', '1']).optional().describe('1: also forget the session and its output'),
});
export const ScreenQuery = z.object({
  format: z.enum(['text', 'ansi']).optional().describe('text (default) or ansi: the serialized screen'),
});
export const OutputQuery = z.object({
  from: wholeNumber.optional().describe('first offset; default: the earliest retained'),
  to: wholeNumber.optional().describe('stop before this offset; default: the end of the output so far'),
});
export const StreamQuery = z.object({
  offset: wholeNumber
    .optional()
    .describe('resume here (the Last-Event-ID header wins); default: the earliest retained offset'),
});

/** GET /api/events: each as the SSE event named by `event`. */
export const SessionEventMessage = z
  .object({
    event: z.enum(SESSION_EVENT_NAMES),
    session: SessionInfo,
  })
  .describe('A session changed; status: its agent state changed.');
export const AttentionEventMessage = z
  .object({
    event: z.literal('attention'),
    attention: AttentionEvent,
    replayed: z.boolean().optional().describe('happened before this stream opened (sent first, once)'),
  })
  .describe('A session wants a person: needs input, finished a turn, failed or exited.');
export const PromptEventMessage = z
  .object({ event: z.literal('prompt'), prompt: PromptInfo })
  .describe('A prompt was queued, is being delivered, was delivered, failed or was cancelled.');
export const WorkspaceEvent = z.union([SessionEventMessage, AttentionEventMessage, PromptEventMessage]);
export type WorkspaceEvent = z.infer<typeof WorkspaceEvent>;
