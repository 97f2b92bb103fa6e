/**
 * Every HTTP route as data: method, path, schemas. The server registers its handlers from this table
 * (validating with these same schemas), /api/openapi.json is generated from it, and the typed HTTP
 * client (src/client/http-client.ts) derives its calls from it, so none of them can drift.
 */
import type { z } from 'zod';
import {
  DiscoveryResponse,
  FleetSessionListResponse,
  PeerListResponse,
  SessionListQuery,
  TowerIdentityResponse,
} from './federation.js';
import {
  PairedPeer,
  PairFinishBody,
  PairFinishResponse,
  PairOffer,
  PairOfferBody,
  PairOfferState,
  PairOfferStateQuery,
  PairStartBody,
  PairStartResponse,
  PairWithBody,
} from './pairing.js';
import { SessionInfo } from './socket.js';
import {
  ApiError,
  AttentionEvent,
  BootstrapBody,
  BootstrapState,
  BootstrapStateResponse,
  BootstrapStreamEvent,
  ConsoleEvent,
  CreateSessionBody,
  DeleteSessionQuery,
  DispatchBody,
  DispatchResponse,
  HealthResponse,
  InputBody,
  LoginBody,
  LoginResponse,
  LogoutResponse,
  OkResponse,
  OutputQuery,
  PromptBody,
  PromptInfo,
  PromptListResponse,
  PromptResponse,
  ResizeBody,
  RestartBody,
  RestartResponse,
  RuntimeInfo,
  RuntimeListResponse,
  ScreenQuery,
  ScreenResponse,
  SessionResponse,
  StreamQuery,
  SubstrateInfo,
  SubstrateListResponse,
  WorkspaceEvent,
  WsClientMessage,
  WsServerMessage,
} from './web.js';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Fastify syntax: `:id` for the session id (or prompt id), `:name` for a substrate's name. */
  url: string;
  summary: string;
  /** none: no credentials needed; read: admin or viewer; admin: admin only. */
  access: 'none' | 'read' | 'admin';
  body?: z.ZodType;
  query?: z.ZodObject;
  responses: Record<number, ResponseSpec>;
  /** Extra schemas the document should carry (messages of a non-HTTP protocol on this path). */
  components?: Record<string, z.ZodType>;
  /** Error statuses this route can answer beyond the common ones (400, 401, 403), with what they mean. */
  errors?: Record<number, string>;
  /** Called by other Towers, not browsers: a public route that needs no Origin header. */
  fromPeers?: true;
}

/** Generic in the schema, so the typed client knows what each route answers. */
const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, schema });
const sse = (description: string, schema: z.ZodType): ResponseSpec => ({
  description,
  schema,
  contentType: 'text/event-stream',
});

/** A file of the installable web app beside the page: public, since browsers fetch it without credentials. */
const appFile = (url: string, summary: string, contentType: string) =>
  ({
    method: 'GET',
    url,
    summary,
    access: 'none',
    responses: { 200: { description: summary, contentType } },
  }) as const;

export const API = {
  page: {
    method: 'GET',
    url: '/',
    summary: 'The web workspace page; logs in from a #token= fragment',
    access: 'none',
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },
  manifest: appFile(
    '/manifest.webmanifest',
    'The web app manifest, so the workspace installs as an app',
    'application/manifest+json',
  ),
  icon: appFile('/icon.svg', "The app's icon", 'image/svg+xml'),
  icon192: appFile('/icon-192.png', "The app's icon, 192×192", 'image/png'),
  icon512: appFile('/icon-512.png', "The app's icon, 512×512", 'image/png'),
  health: {
    method: 'GET',
    url: '/api/health',
    summary: 'Liveness',
    access: 'none',
    responses: { 200: json('the server is up', HealthResponse) },
  },
  login: {
    method: 'POST',
    url: '/api/login',
    summary: 'Trade a token for an HttpOnly, SameSite=Strict session cookie',
    access: 'none',
    body: LoginBody,
    responses: { 200: json('cookie set', LoginResponse) },
    errors: {
      401: 'unauthorized: wrong token',
      429: 'too_many_attempts: too many wrong tokens from this address await their answer (Retry-After)',
    },
  },
  logout: {
    method: 'POST',
    url: '/api/logout',
    summary: 'Clear the session cookie (from an allowed Origin, like every POST)',
    access: 'none',
    responses: { 200: json('cookie cleared', LogoutResponse) },
  },
  openapi: {
    method: 'GET',
    url: '/api/openapi.json',
    summary: 'This document',
    access: 'read',
    responses: { 200: { description: 'OpenAPI 3.1' } },
  },
  runtimes: {
    method: 'GET',
    url: '/api/runtimes',
    summary:
      'Every runtime (the shell, agent CLIs, custom ones from runtimes.json): installed or not, ready or ' +
      'blocked, what is missing and how to fix it',
    access: 'read',
    responses: { 200: json('runtimes', RuntimeListResponse) },
  },
  substrates: {
    method: 'GET',
    url: '/api/substrates',
    summary:
      'Where sessions can run: local, and the substrates of substrates.json, with their state and capabilities',
    access: 'read',
    responses: { 200: json('substrates', SubstrateListResponse) },
  },
  bootstrapState: {
    method: 'GET',
    url: '/api/substrates/:name/bootstrap',
    summary: "A substrate's bootstrap as persisted after each phase (outcome `never` if it never ran)",
    access: 'read',
    responses: { 200: json('its phases', BootstrapStateResponse) },
    errors: { 404: 'unknown_substrate' },
  },
  bootstrap: {
    method: 'POST',
    url: '/api/substrates/:name/bootstrap',
    summary:
      'Prepare a substrate on a box (ssh, docker) in phases: check, packages, node, tower, agent, config. ' +
      'Server-sent events as it goes: phase (a phase changed state), output (a line it wrote), then result ' +
      '(the state, as GET returns it) and the end. A rerun skips the phases that are done; a request while ' +
      'one runs joins it.',
    access: 'admin',
    body: BootstrapBody,
    responses: { 200: sse('each event is named by its `type` field', BootstrapStreamEvent) },
    errors: {
      404: 'unknown_substrate',
      409: 'not_supported: the substrate has no box (local, sandbox)',
      503: 'substrate_unavailable',
    },
  },
  listSessions: {
    method: 'GET',
    url: '/api/sessions',
    summary:
      'Every session: running, exited or lost; with ?scope=all also those of every peer (ids PEER/ID), ' +
      'each peer answering within its timeout or given as last known (stale)',
    access: 'read',
    query: SessionListQuery,
    responses: { 200: json('sessions', FleetSessionListResponse) },
  },
  createSession: {
    method: 'POST',
    url: '/api/sessions',
    summary: 'Spawn a runtime (default: the shell) or a program',
    access: 'admin',
    body: CreateSessionBody,
    responses: { 201: json('the new session', SessionResponse) },
    errors: {
      400: 'also: unknown_runtime, unknown_substrate, bad_cwd, command_not_found',
      409: 'runtime_blocked: the credential gate refused it; the message says what is missing and how to fix it',
      503: 'substrate_unavailable: the substrate cannot start sessions now (the message says why)',
    },
  },
  getSession: {
    method: 'GET',
    url: '/api/sessions/:id',
    summary: 'One session',
    access: 'read',
    responses: { 200: json('the session', SessionResponse) },
  },
  deleteSession: {
    method: 'DELETE',
    url: '/api/sessions/:id',
    summary:
      'Hang up the program (SIGHUP, SIGKILL after 2 s) and wait for it to exit; ?remove=1 also forgets it',
    access: 'admin',
    query: DeleteSessionQuery,
    responses: { 200: json('the session as it ended', SessionResponse) },
  },
  input: {
    method: 'POST',
    url: '/api/sessions/:id/input',
    summary: 'Type into the session',
    access: 'admin',
    body: InputBody,
    responses: { 200: json('typed', OkResponse) },
  },
  resize: {
    method: 'POST',
    url: '/api/sessions/:id/resize',
    summary: 'Resize the PTY and the screen model',
    access: 'admin',
    body: ResizeBody,
    responses: { 200: json('the resized session', SessionResponse) },
  },
  restart: {
    method: 'POST',
    url: '/api/sessions/:id/restart',
    summary:
      "Relaunch the session's runtime (or program) in its cwd, ending it first if it runs; resumes the " +
      'conversation where the runtime can',
    access: 'admin',
    body: RestartBody,
    responses: { 201: json('the new session', RestartResponse) },
    errors: { 409: 'runtime_blocked' },
  },
  prompt: {
    method: 'POST',
    url: '/api/sessions/:id/prompt',
    summary:
      'Send a prompt: typed (bracketed paste), submitted and verified while the agent is idle; queued (FIFO) ' +
      "while it is busy or needs input, or while the user's unsent draft is on its input line (`waiting` says so). " +
      'Follow it with prompt events on /api/events.',
    access: 'admin',
    body: PromptBody,
    responses: { 202: json('accepted: queued or delivering', PromptResponse) },
    errors: {
      409: 'session_not_running, or not_an_agent (a session from an earlier daemon run)',
      429: 'queue_full: the session already holds 100 queued prompts',
    },
  },
  sessionPrompts: {
    method: 'GET',
    url: '/api/sessions/:id/prompts',
    summary:
      "A session's recent, current and queued prompts, oldest first (kept across daemon restarts; those a " +
      'lost session never got are failed)',
    access: 'read',
    responses: { 200: json('prompts', PromptListResponse) },
  },
  prompts: {
    method: 'GET',
    url: '/api/prompts',
    summary: "Every session's recent, current and queued prompts",
    access: 'read',
    responses: { 200: json('prompts', PromptListResponse) },
  },
  cancelPrompt: {
    method: 'DELETE',
    url: '/api/prompts/:id',
    summary: 'Cancel a queued prompt',
    access: 'admin',
    responses: { 200: json('the prompt, now cancelled', PromptResponse) },
    errors: { 404: 'unknown_prompt', 409: 'prompt_not_queued: it is being or was delivered' },
  },
  dispatch: {
    method: 'POST',
    url: '/api/dispatch',
    summary:
      'Send a prompt to an idle session of the runtime (in cwd, if given), or spawn one (up to max_sessions), ' +
      'else queue it on the session with the shortest queue',
    access: 'admin',
    body: DispatchBody,
    responses: { 202: json('where it went', DispatchResponse) },
    errors: { 400: 'also: unknown_runtime, bad_cwd', 409: 'runtime_blocked' },
  },
  screen: {
    method: 'GET',
    url: '/api/sessions/:id/screen',
    summary: 'The visible screen as text and cursor, or (?format=ansi) the serialized screen',
    access: 'read',
    query: ScreenQuery,
    responses: { 200: json('the screen as of offset', ScreenResponse) },
  },
  output: {
    method: 'GET',
    url: '/api/sessions/:id/output',
    summary:
      'Raw output bytes from the journal, at most 16 MiB per request. Headers: X-Tower-Offset (offset of the ' +
      'first byte sent), X-Tower-First-Offset and X-Tower-Last-Offset (the retained range). ' +
      'Read on from X-Tower-Offset + length while that is below min(to, X-Tower-Last-Offset).',
    access: 'read',
    query: OutputQuery,
    responses: {
      200: { description: 'raw bytes', contentType: 'application/octet-stream' },
      416: json('from is not retained', ApiError),
    },
  },
  stream: {
    method: 'GET',
    url: '/api/sessions/:id/stream',
    summary:
      'Server-sent events: started, output (id = offset to resume from), idle after 500 ms of quiet, error ' +
      '(then the stream ends). Resumes from ?offset= or Last-Event-ID.',
    access: 'read',
    query: StreamQuery,
    responses: { 200: sse('each event is named by its `event` field', ConsoleEvent) },
  },
  events: {
    method: 'GET',
    url: '/api/events',
    summary:
      'Server-sent events: a session was created, exited, resized, renamed or removed, or its agent status ' +
      'changed (status); attention (needs input, turn finished, error, exited, lost; id = the event id), the ' +
      'recent ones first (replayed: true; after Last-Event-ID only the later ones); prompt (a prompt changed state)',
    access: 'read',
    responses: { 200: sse('each event is named by its `event` field', WorkspaceEvent) },
  },
  terminal: {
    method: 'GET',
    url: '/ws/terminal/:id',
    summary:
      'WebSocket terminal. Binary frames from the server: 8-byte big-endian offset + raw output. Text frames: ' +
      'JSON, WsClientMessage from the client, WsServerMessage from the server. Viewers may not type or resize.',
    access: 'read',
    responses: { 101: { description: 'switching to the WebSocket protocol' } },
    components: { WsClientMessage, WsServerMessage },
  },
  // ---- pairing
  pairOffer: {
    method: 'POST',
    url: '/api/peers/pair/offer',
    summary:
      'Open a pairing offer: a one-time code for another Tower to pair with this one (replaces an open one). ' +
      'Only the owner (the admin token, not a peer) may.',
    access: 'admin',
    body: PairOfferBody,
    responses: { 201: json('the code, shown once', PairOffer) },
  },
  pairOfferState: {
    method: 'GET',
    url: '/api/peers/pair/offer/:id',
    summary: "A pairing offer's state; waits up to wait_ms for a change past `seen`",
    access: 'admin',
    query: PairOfferStateQuery,
    responses: { 200: json('its state', PairOfferState) },
    errors: { 404: 'unknown_offer' },
  },
  pairOfferCancel: {
    method: 'DELETE',
    url: '/api/peers/pair/offer/:id',
    summary: 'Withdraw a pairing offer',
    access: 'admin',
    responses: { 200: json('withdrawn', OkResponse) },
    errors: { 404: 'unknown_offer' },
  },
  pairWith: {
    method: 'POST',
    url: '/api/peers/pair',
    summary:
      'Pair with the Tower at url that shows the code: SPAKE2 on the code, then peer tokens exchanged ' +
      'sealed under its key; both store the other. Only the owner may.',
    access: 'admin',
    body: PairWithBody,
    responses: { 201: json('the peer, as stored', PairedPeer) },
    errors: {
      403: 'wrong_code',
      404: 'no_pairing_offer',
      409: 'name_taken',
      410: 'pairing_expired, pairing_void',
      502: 'peer_unreachable, bad_pairing',
    },
  },
  pairStart: {
    method: 'POST',
    url: '/api/pair/start',
    summary: "Pairing message 1 (from the Tower that typed the code): its SPAKE2 share; this one's back",
    access: 'none',
    fromPeers: true,
    body: PairStartBody,
    responses: { 200: json('SPAKE2 pB and the confirmation cB', PairStartResponse) },
    errors: {
      404: 'no_pairing_offer',
      409: 'name_taken',
      410: 'pairing_expired, pairing_void',
      429: 'too_many_attempts',
    },
  },
  pairFinish: {
    method: 'POST',
    url: '/api/pair/finish',
    summary:
      "Pairing message 2: the starter's confirmation cA and its sealed token; this one's sealed token back",
    access: 'none',
    fromPeers: true,
    body: PairFinishBody,
    responses: { 200: json('the sealed token', PairFinishResponse) },
    errors: { 403: 'wrong_code', 404: 'unknown_exchange', 410: 'pairing_void', 429: 'too_many_attempts' },
  },
  // ---- discovery
  towerIdentity: {
    method: 'GET',
    url: '/api/tower',
    summary:
      "This Tower's name, identity fingerprint and version, for discovery's probes (what mDNS advertises " +
      'anyway; never a credential)',
    access: 'none',
    fromPeers: true,
    responses: { 200: json('who this Tower says it is', TowerIdentityResponse) },
  },
  discovery: {
    method: 'GET',
    url: '/api/discovery',
    summary: 'Towers found by mDNS, Tailscale and the static list in federation.json: found, not trusted',
    access: 'read',
    responses: { 200: json('what each source found', DiscoveryResponse) },
  },
  // ---- fleet
  peers: {
    method: 'GET',
    url: '/api/peers',
    summary:
      'Every peer: how it was found, its state (online, offline, unpaired, refused), round-trip time and version',
    access: 'read',
    responses: { 200: json('peers', PeerListResponse) },
    errors: { 403: "owner_only: a peer is not shown this Tower's other peers" },
  },
  // ---- mcp
  peerCreateSession: {
    method: 'POST',
    url: '/api/peers/:name/sessions',
    summary:
      'Spawn a runtime or a program on a peer, through this Tower with its credential for that peer; ' +
      'the reply names the session PEER/ID',
    access: 'admin',
    body: CreateSessionBody,
    responses: { 201: json('the new session, its id PEER/ID', SessionResponse) },
    errors: {
      403: "forbidden: a peer's own call is never passed on to another peer",
      404: 'unknown_peer',
      409: 'no_credential: the peer gave this Tower no token to use',
      502: 'the peer answered with something else than a session',
      503: 'unreachable: the peer did not answer',
    },
  },
  mcp: {
    method: 'POST',
    url: '/mcp',
    summary:
      'The MCP server (Streamable HTTP): JSON-RPC messages; the reply is JSON or a stream of server-sent ' +
      'events. Needs Authorization: Bearer with the admin token; a session is named by Mcp-Session-Id',
    access: 'admin',
    responses: { 200: { description: 'JSON-RPC replies, as JSON or server-sent events' } },
    errors: { 404: 'unknown MCP session: initialize again', 503: 'too many MCP sessions' },
  },
  mcpStream: {
    method: 'GET',
    url: '/mcp',
    summary: "The MCP session's stream of server-to-client messages (server-sent events)",
    access: 'admin',
    responses: { 200: { description: 'JSON-RPC messages', contentType: 'text/event-stream' } },
    errors: { 404: 'unknown MCP session' },
  },
  mcpEnd: {
    method: 'DELETE',
    url: '/mcp',
    summary: 'End an MCP session',
    access: 'admin',
    responses: { 200: { description: 'ended' } },
    errors: { 404: 'unknown MCP session' },
  },
} as const satisfies Record<string, RouteSpec>;

export const SCHEMA_COMPONENTS: Record<string, z.ZodType> = {
  SessionInfo,
  ApiError,
  RuntimeInfo,
  SubstrateInfo,
  PromptInfo,
  AttentionEvent,
  BootstrapState,
};
