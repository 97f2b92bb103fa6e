/** The REST client: same-origin fetch (the HttpOnly cookie goes along), JSON in and out. */
import type {
  BootstrapStreamEvent,
  PeerStatus,
  PromptInfo,
  Role,
  RuntimeInfo,
  SessionInfo,
  SubstrateInfo,
} from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the server answers 401: the cookie is missing, expired, or the token rotated. */
export function onUnauthorized(listener: Listener): void {
  unauthorizedListeners.add(listener);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the Tower server (${(error as Error).message})`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const problem = (json ?? {}) as { error?: string; message?: string };
    const error = new ApiError(
      response.status,
      problem.error ?? `http_${response.status}`,
      problem.message ?? `HTTP ${response.status} ${response.statusText}`,
    );
    if (response.status === 401 && path !== '/api/login')
      for (const listener of unauthorizedListeners) listener();
    throw error;
  }
  return json as T;
}

const session = (id: string) => `/api/sessions/${encodeURIComponent(id)}`;

/** Raw output bytes from the journal, from `from` up to `to`: where they start and the retained range. */
export interface OutputRange {
  start: number;
  bytes: Uint8Array;
  firstOffset: number;
}

async function output(id: string, from: number, to: number): Promise<OutputRange> {
  const path = `${session(id)}/output?from=${from}&to=${to}`;
  let response: Response;
  try {
    response = await fetch(path, { credentials: 'same-origin' });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the Tower server (${(error as Error).message})`);
  }
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new ApiError(response.status, problem.error ?? `http_${response.status}`, problem.message ?? '');
  }
  return {
    start: Number(response.headers.get('X-Tower-Offset')),
    bytes: new Uint8Array(await response.arrayBuffer()),
    firstOffset: Number(response.headers.get('X-Tower-First-Offset')),
  };
}

/** POST /api/substrates/:name/bootstrap: each server-sent event as it comes, until the stream ends. */
async function bootstrap(name: string, onEvent: (event: BootstrapStreamEvent) => void): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`/api/substrates/${encodeURIComponent(name)}/bootstrap`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the Tower server (${(error as Error).message})`);
  }
  if (!response.ok || !response.body) {
    const problem = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new ApiError(response.status, problem.error ?? `http_${response.status}`, problem.message ?? '');
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const data = buffered
        .slice(0, end)
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      buffered = buffered.slice(end + 2);
      if (data) onEvent(JSON.parse(data) as BootstrapStreamEvent);
      end = buffered.indexOf('\n\n');
    }
  }
}

export const api = {
  login: (token: string) => request<{ role: Role }>('POST', '/api/login', { token }),
  logout: () => request<{ ok: true }>('POST', '/api/logout'),
  sessions: async () => (await request<{ sessions: SessionInfo[] }>('GET', '/api/sessions')).sessions,
  /** This Tower's sessions and every peer's (ids PEER/ID), with how each peer answered. */
  fleet: async () => {
    const reply = await request<{ sessions: SessionInfo[]; peers?: PeerStatus[] }>(
      'GET',
      '/api/sessions?scope=all',
    );
    return { sessions: reply.sessions, peers: reply.peers ?? [] };
  },
  session: async (id: string) => (await request<{ session: SessionInfo }>('GET', session(id))).session,
  output,
  runtimes: () => request<RuntimeInfo[]>('GET', '/api/runtimes'),
  substrates: async () =>
    (await request<{ substrates: SubstrateInfo[] }>('GET', '/api/substrates')).substrates,
  bootstrap,
  create: async (body: {
    runtime?: string;
    substrate?: string;
    args?: string[];
    cwd?: string;
    name?: string;
    cols?: number;
    rows?: number;
  }) => (await request<{ session: SessionInfo }>('POST', '/api/sessions', body)).session,
  restart: (id: string) =>
    request<{ session_id: string; session: SessionInfo }>('POST', `${session(id)}/restart`, {}),
  prompt: async (id: string, text: string) =>
    (await request<{ prompt: PromptInfo }>('POST', `${session(id)}/prompt`, { text })).prompt,
  prompts: async () => (await request<{ prompts: PromptInfo[] }>('GET', '/api/prompts')).prompts,
  cancelPrompt: async (id: string) =>
    (await request<{ prompt: PromptInfo }>('DELETE', `/api/prompts/${encodeURIComponent(id)}`)).prompt,
  /** Typed into the session as keys (the key bar, Approve/Deny, the composer while an agent asks). */
  input: (id: string, data: string) => request<{ ok: true }>('POST', `${session(id)}/input`, { data }),
  kill: async (id: string) =>
    (await request<{ session: SessionInfo }>('DELETE', `/api/sessions/${encodeURIComponent(id)}`)).session,
  remove: async (id: string) =>
    (await request<{ session: SessionInfo }>('DELETE', `/api/sessions/${encodeURIComponent(id)}?remove=1`))
      .session,
};
