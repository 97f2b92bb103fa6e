/**
 * wait_for_status: the server watches the session so the agent does not have to poll. Each look reads
 * the prompt first and the session second: once a prompt is seen delivered, the status read after it
 * is about that prompt's turn, never the idle moment before it was typed.
 */
import type { TowerHttpClient } from '../client/http-client.js';
import type { AgentState } from '../protocol/agents.js';
import { API } from '../protocol/api.js';
import { type CompactSession, compactSession, sameId } from './format.js';

export const DEFAULT_WAIT_SECONDS = 300;
export const MAX_WAIT_SECONDS = 1800;
const LOOK_EVERY_MS = 250;
/** Progress at least this often, so clients that reset their timeout on progress keep waiting. */
const PROGRESS_EVERY_MS = 5000;

export interface WaitRequest {
  id: string;
  until: AgentState[];
  promptId?: string;
  timeoutSeconds: number;
}

export interface WaitOutcome {
  reached: boolean;
  /** Why it stopped without reaching a wanted state: timeout, exited, prompt_failed. */
  stopped: string | null;
  waited_ms: number;
  session: CompactSession;
  prompt: { id: string; state: string; error: string | null } | null;
}

export type Progress = (done: number, total: number, message: string) => Promise<void>;

export async function waitForStatus(
  client: TowerHttpClient,
  request: WaitRequest,
  progress: Progress | null,
  signal: AbortSignal,
): Promise<WaitOutcome> {
  const started = Date.now();
  const total = request.timeoutSeconds * 1000;
  let lastMessage = '';
  let lastProgressAt = 0;
  for (;;) {
    const prompt = request.promptId ? await findPrompt(client, request.id, request.promptId, signal) : null;
    const { session } = await client.call(API.getSession, { id: request.id, signal });
    const compact = { ...compactSession(session), ...sameId(request.id) };
    const waited = Date.now() - started;
    const outcome = (reached: boolean, stopped: string | null): WaitOutcome => ({
      reached,
      stopped,
      waited_ms: waited,
      session: compact,
      prompt,
    });
    const promptPending = prompt !== null && (prompt.state === 'queued' || prompt.state === 'delivering');
    if (prompt && (prompt.state === 'failed' || prompt.state === 'cancelled')) {
      return outcome(false, `prompt_${prompt.state}`);
    }
    if (!promptPending && request.until.includes(compact.state as AgentState)) return outcome(true, null);
    if (compact.status !== 'running') return outcome(false, compact.status);
    if (waited >= total) return outcome(false, 'timeout');

    const message = promptPending
      ? `prompt ${prompt.state}${compact.state === 'busy' ? ' (the agent is busy)' : ''}`
      : `${compact.state}: ${compact.reason}`;
    if (progress && (message !== lastMessage || Date.now() - lastProgressAt >= PROGRESS_EVERY_MS)) {
      await progress(Math.round(waited / 1000), request.timeoutSeconds, message).catch(() => {});
      lastMessage = message;
      lastProgressAt = Date.now();
    }
    await sleep(Math.min(LOOK_EVERY_MS, total - waited), signal);
  }
}

async function findPrompt(client: TowerHttpClient, id: string, promptId: string, signal: AbortSignal) {
  const { prompts } = await client.call(API.sessionPrompts, { id, signal });
  const found = prompts.find((prompt) => prompt.id === promptId);
  if (!found) throw new Error(`session ${id} has no prompt ${promptId} (send_prompt returns its id)`);
  return { id: found.id, state: found.state, error: found.error };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}
