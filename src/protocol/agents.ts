/**
 * The agent half of the socket protocol: runtimes, status, prompts, attention, restart and dispatch.
 * socket.ts puts these into the one ClientMessage / DaemonMessage union.
 */
import { z } from 'zod';
import { reply, reqId, request, sessionId, substrateName } from './message.js';
/** Prompts are text for a person's terminal: large enough for a pasted file, small enough for one line. */
export const MAX_PROMPT_CHARS = 256 * 1024;
export const promptText = z.string().min(1, 'must not be empty').max(MAX_PROMPT_CHARS);
const runtimeName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a runtime name like "claude"');

// ---------------------------------------------------------------- shapes

export const AgentState = z.enum(['starting', 'idle', 'busy', 'needs_input', 'exited']);
export type AgentState = z.infer<typeof AgentState>;

export const AgentStatus = z
  .object({
    state: AgentState,
    reason: z.string().describe('one line: why the session is in this state'),
    since: z.string().describe('ISO 8601 time of the change'),
    source: z
      .enum(['spawn', 'hook', 'osc', 'screen', 'process', 'prompt', 'exit'])
      .describe('which channel decided it'),
  })
  .describe('What an agent session is doing.');
export type AgentStatus = z.infer<typeof AgentStatus>;

export const PromptState = z.enum(['queued', 'delivering', 'delivered', 'failed', 'cancelled']);
export type PromptState = z.infer<typeof PromptState>;

export const PromptInfo = z
  .object({
    id: z.string(),
    session_id: z.string(),
    text: z.string(),
    state: PromptState,
    attempts: z.number().int().describe('times the submit key was sent'),
    queued_at: z.string(),
    delivered_at: z.string().nullable(),
    error: z.string().nullable().describe('why delivery failed'),
    waiting: z
      .string()
      .nullable()
      .describe("why a queued prompt waits although the agent is idle (the user's draft on the input line)"),
  })
  .describe('A prompt and its delivery.');
export type PromptInfo = z.infer<typeof PromptInfo>;

/** Typed into the session as they are: "1", "y", "\r" (Enter), "\u001b" (Esc). */
const answerKey = z.string().min(1).max(16);
export const AnswerKeys = z
  .object({
    approve: answerKey.describe('the keys that approve, e.g. "1" or "\r"'),
    deny: answerKey.describe('the keys that deny, e.g. "\u001b" (Esc)'),
  })
  .strict()
  .describe("The keys that answer a runtime's approval dialog.");
export type AnswerKeys = z.infer<typeof AnswerKeys>;

export const RuntimeInfo = z
  .object({
    name: z.string(),
    description: z.string(),
    command: z.string(),
    custom: z.boolean().describe('defined in <state-dir>/runtimes.json'),
    installed: z.boolean(),
    path: z.string().nullable(),
    version: z.string().nullable(),
    ready: z.boolean().describe('installed and has a usable model upstream'),
    missing: z.array(z.string()).describe('what blocks it: names only, never secret values'),
    fix: z.string().nullable().describe('how to unblock it'),
    status_channel: z.string().describe('how its status is known: hooks, notify+osc, process or screen'),
    can_resume: z.boolean(),
    answers: AnswerKeys.nullable().describe('null: Tower knows no keys that answer its dialogs'),
  })
  .describe('One runtime in runtime_list.');
export type RuntimeInfo = z.infer<typeof RuntimeInfo>;

export const AttentionKind = z
  .enum(['needs_input', 'turn_finished', 'error', 'exited', 'lost'])
  .describe(
    'lost: the session was running when the daemon stopped (raised once, when the daemon starts again)',
  );
export type AttentionKind = z.infer<typeof AttentionKind>;

/** Attention events the daemon keeps for clients that connect later (watch_attention with replay). */
export const ATTENTION_BACKLOG = 100;

export const AttentionEvent = z
  .object({
    id: z.string().describe('unique; watch_attention replays the events after one'),
    kind: AttentionKind,
    session_id: z.string(),
    runtime: z.string().nullable(),
    name: z.string().nullable(),
    excerpt: z.string().describe('one line for a notification'),
    at: z.string(),
  })
  .describe('Something a person may want to look at.');
export type AttentionEvent = z.infer<typeof AttentionEvent>;

// ---------------------------------------------------------------- client → daemon

export const SendPromptRequest = request(
  'send_prompt',
  {
    session_id: sessionId,
    text: promptText.describe('the prompt; newlines are kept (sent as a bracketed paste)'),
  },
  'Extension. Type a prompt into an agent and submit it, verified; queued while the agent is busy. ' +
    'Reply: prompt_accepted at once; prompt_event to watchers as it is delivered or fails.',
);
export const ListPromptsRequest = request(
  'list_prompts',
  { session_id: sessionId.optional().describe('default: every session') },
  'Extension. Reply: prompt_list with queued and recent prompts.',
);
export const CancelPromptRequest = request(
  'cancel_prompt',
  { prompt_id: z.string().min(1) },
  'Extension. Drop a queued prompt. Reply: prompt_accepted with state cancelled.',
);
/** What a hook reports, over the socket (agent_signal) or in-band (the session's terminal). */
const agentSignalFields = {
  source: z.string().max(64).describe('the runtime whose hook fired, e.g. claude'),
  event: z.string().min(1).max(128).describe('the hook event name, e.g. Stop'),
  payload: z.record(z.string(), z.unknown()).optional().describe('the hook input, as the agent gave it'),
};
export const AgentSignalRequest = request(
  'agent_signal',
  { session_id: sessionId, ...agentSignalFields },
  'Extension, sent by `tower hook`: a structured status signal from inside an agent. Reply: ack.',
);
/** An in-band signal's body: the session is the one whose terminal it was written to. */
export const InbandSignal = z
  .object(agentSignalFields)
  .describe("a status signal an agent's hook wrote to its own terminal (OSC 7717), taken out of the output");
export type InbandSignal = z.infer<typeof InbandSignal>;
export const ListRuntimesRequest = request(
  'list_runtimes',
  {},
  'Extension. Reply: runtime_list: every runtime, installed or not, ready or blocked and why.',
);
export const WatchAttentionRequest = request(
  'watch_attention',
  {
    replay: z
      .boolean()
      .optional()
      .describe(
        `first send the recent attention events the daemon holds (this run's last ${ATTENTION_BACKLOG}), marked replayed`,
      ),
    after: z
      .string()
      .max(64)
      .optional()
      .describe('with replay: only those after this event id (all, if the daemon no longer holds it)'),
  },
  'Extension. From now on, receive attention messages (needs input, turn finished, error, exited, lost) and ' +
    'prompt_event.',
);
export const RestartSessionRequest = request(
  'restart_session',
  {
    session_id: sessionId,
    resume: z.boolean().optional().describe("default true: relaunch with the runtime's resume flag"),
  },
  'Extension. Relaunch an agent session (ending it first if it runs) in the same cwd, linked to the old one. ' +
    'Reply: session_created with the new id.',
);
/** The fields of a dispatch, on the socket and over HTTP. */
export const DispatchFields = {
  runtime: runtimeName,
  cwd: z
    .string()
    .min(1)
    .optional()
    .describe(
      "only sessions in this directory (`~`: the home of the daemon's user, or the box's); spawn here",
    ),
  text: promptText,
  max_sessions: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe('spawn only while fewer sessions of the runtime run; default from config, else 4'),
  substrate: substrateName
    .optional()
    .describe(
      'only sessions on this substrate, and spawn there (cwd is then its path); default: any, spawn local',
    ),
};
export const DispatchRequest = request(
  'dispatch',
  DispatchFields,
  'Extension. Send to an idle session of the runtime, or spawn one. Reply: dispatched.',
);

export const AgentClientMessages = [
  SendPromptRequest,
  ListPromptsRequest,
  CancelPromptRequest,
  AgentSignalRequest,
  ListRuntimesRequest,
  WatchAttentionRequest,
  RestartSessionRequest,
  DispatchRequest,
] as const;
export type AgentClientMessage = z.infer<(typeof AgentClientMessages)[number]>;
export const AGENT_REQUEST_TYPES: ReadonlySet<string> = new Set(
  AgentClientMessages.map((message) => message.shape.type.value),
);

// ---------------------------------------------------------------- daemon → client

export const AgentDaemonMessages = [
  reply(
    'prompt_accepted',
    { prompt: PromptInfo, req_id: reqId },
    'Extension: answer to send_prompt and cancel_prompt.',
  ),
  reply('prompt_list', { prompts: z.array(PromptInfo), req_id: reqId }, 'Extension: answer to list_prompts.'),
  reply('prompt_event', { prompt: PromptInfo }, 'Extension: a prompt changed state (after watch_attention).'),
  reply(
    'runtime_list',
    { runtimes: z.array(RuntimeInfo), req_id: reqId },
    'Extension: answer to list_runtimes.',
  ),
  reply(
    'attention',
    {
      event: AttentionEvent,
      replayed: z.boolean().optional().describe('from the backlog (watch_attention with replay), not new'),
    },
    'Extension: sent after watch_attention.',
  ),
  reply(
    'dispatched',
    {
      session_id: z.string(),
      spawned: z.boolean().describe('a new session was started for it'),
      prompt: PromptInfo,
      req_id: reqId,
    },
    'Extension: answer to dispatch.',
  ),
] as const;

export const AgentErrorCodes = [
  'unknown_runtime',
  'runtime_blocked',
  'unknown_prompt',
  'prompt_not_queued',
  'not_an_agent',
  'queue_full',
] as const;
