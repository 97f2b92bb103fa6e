/** Helpers for agent tests: a custom runtime running the scripted agent, and waiting on status and events. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TowerClient } from '../../dist/client/client.js';
import type { AgentState, AttentionEvent, PromptInfo, SessionInfo } from '../../dist/protocol/index.js';
import { ROOT, waitFor } from './daemon.js';

export const SCRIPTED_AGENT = join(ROOT, 'test', 'fixtures', 'scripted-agent.mjs');

/** The runtimes.json entry of the scripted agent (see test/fixtures/scripted-agent.mjs). */
export function scriptedRuntime(extra: Record<string, unknown> & { prompt?: Record<string, unknown> } = {}) {
  return {
    description: 'scripted test agent',
    command: SCRIPTED_AGENT,
    status: {
      needs_input: ['^Do you want to proceed'],
      busy: ['esc to interrupt'],
      idle: ['^ready>$'],
      quiet_ms: 400,
    },
    resume_args: ['--resumed'],
    ...extra,
    prompt: { input_line: ['^ready>(.*)$'], ...extra.prompt },
  };
}

export function writeRuntimes(stateDir: string, runtimes: Record<string, unknown>): void {
  writeFileSync(join(stateDir, 'runtimes.json'), JSON.stringify({ runtimes }, null, 2));
}

export async function sessionInfo(client: TowerClient, id: string): Promise<SessionInfo> {
  const info = (await client.list()).find((session) => session.id === id);
  if (!info) throw new Error(`no session ${id}`);
  return info;
}

/** Wait for a status; a timeout says what the session was doing and shows its screen. */
export async function waitState(client: TowerClient, id: string, state: AgentState, timeoutMs = 15_000) {
  let last: SessionInfo | undefined;
  try {
    return await waitFor(
      async () => {
        last = await sessionInfo(client, id);
        return last.agent.state === state && last;
      },
      `session ${id} to be ${state}`,
      timeoutMs,
    );
  } catch (error) {
    const screen = await client.screen(id).then(
      (s) => s.text,
      () => '(no screen)',
    );
    throw new Error(`${(error as Error).message}; it is ${JSON.stringify(last?.agent)}; screen:\n${screen}`);
  }
}

/** Records attention and prompt events and every status a session passes through (watch first). */
export async function recordEvents(client: TowerClient) {
  const attention: AttentionEvent[] = [];
  const prompts: PromptInfo[] = [];
  const states = new Map<string, AgentState[]>();
  client.on('attention', (event) => attention.push(event));
  client.on('prompt', (prompt) => prompts.push(prompt));
  client.on('session_event', ({ event, session }) => {
    if (event !== 'status' && event !== 'created') return;
    const seen = states.get(session.id) ?? [];
    if (seen[seen.length - 1] !== session.agent.state) seen.push(session.agent.state);
    states.set(session.id, seen);
  });
  await client.watch();
  await client.watchAttention();
  return {
    attention,
    prompts,
    states: (id: string) => states.get(id) ?? [],
    /** The final state of a prompt: delivered, failed or cancelled. */
    settled: (promptId: string, timeoutMs = 20_000) =>
      waitFor(
        () =>
          prompts.find(
            (prompt) => prompt.id === promptId && prompt.state !== 'queued' && prompt.state !== 'delivering',
          ),
        `prompt ${promptId} to settle`,
        timeoutMs,
      ),
    nextAttention: (kind: AttentionEvent['kind'], id: string, after = 0, timeoutMs = 20_000) =>
      waitFor(
        () => attention.slice(after).find((event) => event.kind === kind && event.session_id === id),
        `${kind} attention for ${id}`,
        timeoutMs,
      ),
  };
}
