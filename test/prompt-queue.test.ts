/**
 * The prompt queue's logic on a manual clock, over a real session on the echo substrate: what it
 * types is echoed, and the test plays the agent (its screen, its hook signals). Pacing, verification,
 * retries, drafts and the settling window after a submit typed by hand are checked to the millisecond.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PromptQueue } from '../dist/agents/prompts.js';
import { defineRuntime } from '../dist/agents/spec.js';
import { StatusTracker } from '../dist/agents/status.js';
import type { PromptInfo } from '../dist/protocol/index.js';
import { echoSessions, puppetSession, settled, show } from './support/echo.js';

const QUIET_MS = 1000;
const SUBMIT_DELAY_MS = 150;
const VERIFY_MS = 2500;
const DRAFT_WAIT_MS = 10_000;
const BANNER = 'agent ready\r\n> ';

const puppet = defineRuntime(
  'puppet',
  {
    command: 'stand-in',
    status: { busy: ['^working…'], idle: ['^>'], quiet_ms: QUIET_MS },
    prompt: {
      paste: 'typed',
      submit_delay_ms: SUBMIT_DELAY_MS,
      input_line: ['^> ?(.*)$'],
      draft_wait_ms: DRAFT_WAIT_MS,
    },
  },
  { statusChannel: 'hooks' },
);

const { manager, cleanup } = echoSessions();
afterAll(cleanup);

/** An idle agent with a queue; every byte Tower types into it is in `typed()`. */
async function idleAgent() {
  const { session, clock } = await puppetSession(manager, BANNER);
  const updates: PromptInfo[] = [];
  let queue: PromptQueue | undefined;
  const tracker = new StatusTracker(session, puppet, (change) => queue?.statusChanged(change), clock);
  queue = new PromptQueue(session, tracker, puppet.spec.prompt, (prompt) => updates.push(prompt), clock);
  await clock.advance(QUIET_MS + 10);
  expect(tracker.state).toBe('idle');
  const typed = () => session.journal.read(BANNER.length, 1 << 20).toString('utf8');
  const latest = (id: string) => updates.filter((prompt) => prompt.id === id).at(-1)!;
  return { session, clock, tracker, queue, typed, latest };
}

describe('prompt queue on a manual clock', () => {
  it('types the prompt, submits it submit_delay_ms later, and takes a hook moving as delivery', async () => {
    const { clock, tracker, queue, typed, latest } = await idleAgent();
    const prompt = await queue.enqueue('fix the bug');
    expect(prompt.state).toBe('delivering');
    await clock.advance(SUBMIT_DELAY_MS - 1);
    expect(typed()).toBe('fix the bug');
    await clock.advance(1);
    expect(typed()).toBe('fix the bug\r');
    tracker.signal({ state: 'busy', reason: 'working' });
    await clock.advance(100);
    expect(latest(prompt.id)).toMatchObject({ state: 'delivered', attempts: 1, error: null });
    expect(latest(prompt.id).delivered_at).toBe(new Date(clock.now()).toISOString());
  });

  it('takes the screen as delivery: it changed after the submit, and the cursor row no longer holds the prompt', async () => {
    const { session, clock, tracker, queue, latest } = await idleAgent();
    const prompt = await queue.enqueue('write the tests');
    await clock.advance(SUBMIT_DELAY_MS);
    session.write('\nworking… on it');
    await clock.advance(100);
    expect(latest(prompt.id).state).toBe('delivered');
    // No channel saw it: Tower assumes the agent busy with it until one says otherwise.
    expect(tracker.status).toMatchObject({ state: 'busy', source: 'prompt' });
  });

  it('submits again when the agent shows nothing, three times, then fails saying what the input line holds', async () => {
    const { clock, queue, typed, latest } = await idleAgent();
    const prompt = await queue.enqueue('are you there');
    const allTries = 3 * (SUBMIT_DELAY_MS + VERIFY_MS);
    await clock.advance(SUBMIT_DELAY_MS + VERIFY_MS + SUBMIT_DELAY_MS);
    expect(latest(prompt.id)).toMatchObject({ state: 'delivering', attempts: 2 });
    await clock.advance(allTries - (SUBMIT_DELAY_MS + VERIFY_MS + SUBMIT_DELAY_MS) - 1);
    expect(latest(prompt.id)).toMatchObject({ state: 'delivering', attempts: 3 });
    await clock.advance(1);
    expect(latest(prompt.id)).toMatchObject({ state: 'failed', attempts: 3 });
    expect(latest(prompt.id).error).toBe(
      'the agent did not take the prompt after 3 submits over 7.95 s; its input line shows: > are you there',
    );
    expect(typed()).toBe('are you there\r\r\r');
  });

  it('holds prompts while the agent is busy, in order, and delivers the first once it is idle', async () => {
    const { clock, tracker, queue, typed, latest } = await idleAgent();
    tracker.signal({ state: 'busy', reason: 'working' });
    const first = await queue.enqueue('first');
    const second = await queue.enqueue('second');
    expect([first.state, second.state, queue.length]).toEqual(['queued', 'queued', 2]);
    await clock.advance(60_000);
    expect(typed()).toBe('');
    tracker.signal({ state: 'idle', reason: 'turn finished' });
    await clock.advance(SUBMIT_DELAY_MS);
    expect(typed()).toBe('first\r');
    expect([latest(first.id).state, latest(second.id).state]).toEqual(['delivering', 'queued']);
  });

  it('never types over a draft: waits until it is sent or cleared, at most draft_wait_ms, then fails', async () => {
    const { session, clock, queue, typed, latest } = await idleAgent();
    const draft = 'half a thought';
    session.write(draft);
    queue.typed(Buffer.from(draft));
    await settled(session);
    const held = await queue.enqueue('from Tower');
    expect(latest(held.id).waiting).toMatch(/the input line holds a draft/);
    await clock.advance(DRAFT_WAIT_MS - 1);
    expect(latest(held.id).state).toBe('queued');
    await clock.advance(1);
    expect(latest(held.id)).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(/held a draft for 10 s/),
    });

    const next = await queue.enqueue('again');
    show(session, '> ');
    queue.typed(Buffer.from('\x15'));
    await clock.advance(500 - 1);
    expect(latest(next.id).state).toBe('queued');
    await clock.advance(1);
    expect(latest(next.id).state).toBe('delivering');
    expect(typed().endsWith('again')).toBe(true);
  });

  it('after a submit typed by hand, gives the agent quiet_ms to show it is busy before delivering', async () => {
    const { clock, queue, latest } = await idleAgent();
    queue.typed(Buffer.from('do this by hand\r'));
    const prompt = await queue.enqueue('then this');
    expect(prompt.state).toBe('queued');
    await clock.advance(QUIET_MS - 1);
    expect(latest(prompt.id).state).toBe('queued');
    await clock.advance(1);
    expect(latest(prompt.id).state).toBe('delivering');
  });
});
