/**
 * Every HTTP route as data: method, path, schemas. The server registers its handlers from this table
 * (validating with these same schemas), /api/openapi.json is generated from it, and the typed HTTP
 * client (src/client/http-client.ts) derives its calls from it, so none of them can drift.
 */
import type { z } from 'zod';
import { FEDERATION_ROUTES } from './api-federation.js';
import { FleetSessionListResponse, SessionListQuery } from './federation.js';
import { json, type RouteSpec, sse } from './route-spec.js';
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
  ...FEDERATION_ROUTES,
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
