/**
 * Between the session host and the control plane. The host owns the PTYs, journals and screens and
 * serves this socket; the control plane (agents, the web) is one more client of it. It attaches once,
 * then the host hands it the requests only it can answer (prompts, runtimes, attention: relayed on a
 * channel per client connection) and tells it what it needs to keep agent status (input typed by
 * others, output activity, sessions being closed on request).
 */
import { z } from 'zod';
import { AgentStatus, InbandSignal } from './agents.js';
import { createSessionFields, reply, reqId, request, sessionId } from './message.js';

/**
 * Bumped when a message the host or the control plane relies on changes meaning. A control plane
 * works with a host of any version from MIN_HOST_PROTOCOL up to its own.
 */
export const HOST_PROTOCOL = 3;
export const MIN_HOST_PROTOCOL = 1;
/** From this protocol on a host starts programs on substrates (host_create_session's `substrate`, `access`, `hook_channel`). */
export const SUBSTRATES_PROTOCOL = 2;
/**
 * From this protocol on a host takes agents' in-band status signals out of their output and sends them
 * as `signal` notices (to a control plane of this protocol or later); it opens no hook sockets.
 */
export const INBAND_SIGNAL_PROTOCOL = 3;

const channel = z
  .number()
  .int()
  .min(1)
  .describe('one client connection of the host, for as long as it lasts');

export const HostClientMessages = [
  request(
    'attach_control_plane',
    {
      protocol: z.number().int().describe('HOST_PROTOCOL of the control plane'),
      build: z.string().max(200).describe('the Tower version of the control plane'),
    },
    "Extension (control plane only). Become the host's control plane: agent requests from every client " +
      'are relayed to this connection from now on. One at a time. Reply: control_plane_attached.',
  ),
  request(
    'host_create_session',
    {
      ...createSessionFields,
      runtime_label: z.string().nullable().describe('the agent runtime the control plane resolved'),
      resumed_from: z.string().nullable(),
      display_args: z.array(z.string()).describe('the arguments the user gave, shown instead of args'),
      access: z
        .object({
          credential_env: z.array(z.string()).describe("the variables the runtime's gate rules name"),
          credential_files: z.array(z.string()).describe("the files they name (`~/…`: the session's home)"),
          read_only: z
            .array(z.string())
            .describe('host paths it needs to see: files Tower wrote, the hook program'),
        })
        .optional()
        .describe("what it may see of the user's own on a substrate that hides the rest (a sandbox)"),
      hook_channel: z
        .boolean()
        .optional()
        .describe(
          "on a substrate that hides the daemon's socket: a hook socket of its own ($TOWER_HOOK_SOCKET); " +
            'hosts of protocol 3 and later ignore it: their sessions report in-band',
        ),
    },
    'Extension (control plane only). create_session with the program already resolved. Reply: session_created.',
  ),
  request(
    'set_agent_status',
    { session_id: sessionId, status: AgentStatus, queued_prompts: z.number().int().min(0) },
    'Extension (control plane only). What the agent is doing; watchers get a session_event status. Reply: ack.',
  ),
  request(
    'relay_reply',
    { channel, line: z.string().describe('one daemon message, JSON, for that client') },
    'Extension (control plane only). A message for the client on a relay channel. No reply.',
  ),
  request(
    'read_process',
    { session_id: sessionId },
    "Extension. The program in the terminal's foreground. Reply: process_info.",
  ),
  request(
    'host_status',
    {},
    'Extension. Which host this is and whether a control plane is attached. Reply: host_info.',
  ),
  request(
    'stop_host',
    {},
    'Extension. End every session and stop the session host. Reply: ack, then the connection closes.',
  ),
] as const;
export type HostClientMessage = z.infer<(typeof HostClientMessages)[number]>;

/** Only the attached control plane may send these. */
export const CONTROL_PLANE_REQUEST_TYPES: ReadonlySet<string> = new Set([
  'host_create_session',
  'set_agent_status',
  'relay_reply',
]);

const hostInfo = {
  protocol: z.number().int(),
  build: z.string(),
  pid: z.number().int(),
  started_at: z.string().describe('ISO 8601'),
};

export const SESSION_NOTICE_KINDS = ['typed', 'output', 'closing', 'signal'] as const;

export const HostDaemonMessages = [
  reply(
    'control_plane_attached',
    {
      ...hostInfo,
      lost: z
        .array(z.string())
        .describe('sessions the host found lost when it started, not yet told to a control plane'),
      req_id: reqId,
    },
    'Extension: answer to attach_control_plane.',
  ),
  reply(
    'host_info',
    { ...hostInfo, control_plane: z.boolean(), sessions: z.number().int(), req_id: reqId },
    'Extension: answer to host_status.',
  ),
  reply(
    'process_info',
    { session_id: z.string(), foreground: z.string().nullable(), req_id: reqId },
    'Extension: answer to read_process.',
  ),
  reply(
    'relay_request',
    { channel, line: z.string().describe('the client request, JSON, as it came') },
    'Extension (to the control plane): a client request only the control plane can answer.',
  ),
  reply('relay_closed', { channel }, 'Extension (to the control plane): that client went away.'),
  reply(
    'session_notice',
    {
      session_id: z.string(),
      kind: z
        .enum(SESSION_NOTICE_KINDS)
        .describe(
          'typed: a client typed data; output: the program wrote (at most every 50 ms); closing: ended on ' +
            'request; signal: an agent reported its status in-band (protocol 3)',
        ),
      data: z.string().optional().describe('typed: the bytes, base64'),
      signal: InbandSignal.optional().describe('signal: what it reported'),
    },
    'Extension (to the control plane): what it needs to keep agent status.',
  ),
] as const;
export type HostDaemonMessage = z.infer<(typeof HostDaemonMessages)[number]>;

export const HostErrorCodes = [
  'control_plane_unavailable',
  'control_plane_attached',
  'not_control_plane',
] as const;
export type SessionNoticeKind = (typeof SESSION_NOTICE_KINDS)[number];
