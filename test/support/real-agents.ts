/**
 * Driving the real agent CLIs (installed by scripts/install-agents.sh) through a real daemon against the
 * fake model server: per-runtime settings, and one scripted turn with its observed status sequence.
 */
import { existsSync } from 'node:fs';
import type { TowerClient } from '../../dist/client/client.js';
import type { AgentState } from '../../dist/protocol/index.js';
import { type AgentHome, agentBin, claudeHome, codexHome, geminiHome, opencodeHome } from './agent-home.js';
import type { recordEvents } from './agents.js';
import { waitFor } from './daemon.js';

export type RealRuntime = 'claude' | 'codex' | 'gemini' | 'opencode';

export const REAL_RUNTIMES: Record<
  RealRuntime,
  { home: (url: string, options: { trust: string[] }) => AgentHome; dialog: RegExp; approve: string }
> = {
  // Claude Code, Gemini CLI and OpenCode preselect "Yes"/"Allow once": Enter approves. Codex takes `y`.
  claude: { home: claudeHome, dialog: /Do you want to proceed\?/, approve: '\r' },
  codex: { home: codexHome, dialog: /Would you like to run the following command\?/, approve: 'y' },
  gemini: { home: geminiHome, dialog: /Allow execution of/, approve: '\r' },
  opencode: { home: opencodeHome, dialog: /Permission required/, approve: '\r' },
};

export const STRICT = process.env.TOWER_TEST_STRICT === '1';
export const installed = (runtime: RealRuntime) => agentBin(runtime) !== null;

type Events = Awaited<ReturnType<typeof recordEvents>>;

export interface TurnResult {
  kind: 'say' | 'run';
  ok: boolean;
  /** Status states seen from the prompt until the turn finished. */
  states: AgentState[];
  problem: string | null;
  /** From the answer being on screen to the status saying idle (negative: idle came first). */
  idleLagMs: number;
}

/**
 * One turn: a `say` prompt must show busy then idle with exactly one turn_finished, the answer on screen
 * when idle is reported; a `run` prompt must show needs_input before the command runs, then idle after
 * approval, with the command's effect visible.
 */
export async function scriptedTurn(
  client: TowerClient,
  events: Events,
  id: string,
  runtime: RealRuntime,
  turn: { kind: 'say' | 'run'; word: string; file: string },
): Promise<TurnResult> {
  const attentionMark = events.attention.length;
  const statesMark = events.states(id).length;
  const prompt = turn.kind === 'say' ? `say ${turn.word}` : `run touch ${turn.file}`;
  const expected = turn.kind === 'say' ? turn.word : `ran touch ${turn.file}`;
  const problems: string[] = [];
  const sent = await client.sendPrompt(id, prompt);
  const delivered = await events.settled(sent.id, 60_000);
  if (delivered.state !== 'delivered') problems.push(`prompt ${delivered.state}: ${delivered.error}`);
  if (turn.kind === 'run') {
    await events.nextAttention('needs_input', id, attentionMark, 30_000);
    if (existsSync(turn.file)) problems.push('the command ran before approval');
    // Like a person, answer the dialog once it is drawn (Codex signals it about a second earlier).
    const { dialog, approve } = REAL_RUNTIMES[runtime];
    await waitFor(async () => dialog.test((await client.screen(id)).text), 'the approval dialog', 30_000);
    await client.write(id, approve);
  }
  let answerSeenAt = 0;
  let lastScreen = '';
  const watchAnswer = waitFor(
    async () => {
      lastScreen = (await client.screen(id)).text;
      if (!lastScreen.includes(expected)) return false;
      answerSeenAt = Date.now();
      return true;
    },
    `"${expected}" on screen`,
    45_000,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}; states ${events.states(id).slice(statesMark).join(' → ')}; screen:\n${lastScreen}`,
    );
  });
  await watchAnswer;
  const finished = await events.nextAttention('turn_finished', id, attentionMark, 30_000);
  const idleAt = Date.parse(finished.at);
  await new Promise((resolve) => setTimeout(resolve, 600));
  const states = events.states(id).slice(statesMark);
  const finishes = events.attention
    .slice(attentionMark)
    .filter((event) => event.session_id === id && event.kind === 'turn_finished').length;
  if (finishes !== 1) problems.push(`${finishes} turn_finished events (states ${states.join(' → ')})`);
  if (!states.includes('busy') && turn.kind === 'say') problems.push('never busy');
  if (turn.kind === 'run' && !states.includes('needs_input')) problems.push('never needs_input');
  if (turn.kind === 'say' && states.includes('needs_input')) problems.push('needs_input without a dialog');
  if (states[states.length - 1] !== 'idle') problems.push(`ended ${states[states.length - 1]}`);
  if (turn.kind === 'run' && !existsSync(turn.file)) problems.push('the approved command did not run');
  const idleLagMs = idleAt - answerSeenAt;
  // The answer is polled every 25 ms on top of a screen read: idle reported well before it is premature.
  if (idleLagMs < -500) problems.push(`idle ${-idleLagMs} ms before the answer was on screen`);
  return {
    kind: turn.kind,
    ok: problems.length === 0,
    states,
    problem: problems.join('; ') || null,
    idleLagMs,
  };
}
