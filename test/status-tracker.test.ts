/**
 * The status tracker's logic on a manual clock: the session is real (journal, screen worker) on the
 * echo substrate, and the test plays the program by writing what it would print. Time moves only
 * when the test moves it, so quiet times are checked to the millisecond, in milliseconds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { shell } from '../dist/agents/runtimes/shell.js';
import { type AgentRuntime, defineRuntime } from '../dist/agents/spec.js';
import { type StatusChange, StatusTracker } from '../dist/agents/status.js';
import { echoSessions, puppetSession, settled, show } from './support/echo.js';

const QUIET_MS = 1000;
/** The tracker reads the screen this long after output, and looks again 10 ms past a quiet time. */
const SETTLE_MS = 120;
const MARGIN_MS = 10;
/** What a runtime that reports its turn's end gets before the screen decides. */
const SIGNAL_WAIT_MS = 5000;

const puppetStatus = {
  busy: ['^working…'],
  needs_input: ['^Allow this\\?'],
  idle: ['^>'],
  quiet_ms: QUIET_MS,
};
const puppet = defineRuntime(
  'puppet',
  { command: 'stand-in', status: puppetStatus },
  { statusChannel: 'screen' },
);
const hooked = defineRuntime(
  'hooked',
  { command: 'stand-in', status: puppetStatus },
  { statusChannel: 'hooks' },
);

const { manager, cleanup } = echoSessions();
afterAll(cleanup);

async function start(runtime: AgentRuntime, banner = '> ') {
  const { session, clock } = await puppetSession(manager, banner);
  const changes: StatusChange[] = [];
  const tracker = new StatusTracker(session, runtime, (change) => changes.push(change), clock);
  await settled(session);
  const trail = () => changes.map((change) => `${change.status.state}: ${change.status.reason}`);
  return { session, clock, tracker, changes, trail };
}

describe('status tracker on a manual clock', () => {
  it('starting turns idle once the prompt has been quiet for quiet_ms', async () => {
    const { clock, tracker, trail } = await start(puppet);
    await clock.advance(QUIET_MS - 1);
    expect(tracker.state).toBe('starting');
    await clock.advance(MARGIN_MS + 1);
    expect(trail()).toEqual(['idle: ready']);
    expect(tracker.status).toMatchObject({ source: 'screen', since: new Date(clock.now()).toISOString() });
  });

  it('a spinner is busy after the settle; the prompt back and quiet for quiet_ms is idle again', async () => {
    const { session, clock, tracker, trail } = await start(puppet);
    await clock.advance(QUIET_MS + MARGIN_MS);
    show(session, 'working… on it');
    await clock.advance(SETTLE_MS - 1);
    expect(tracker.state).toBe('idle');
    await clock.advance(1);
    expect(tracker.status).toMatchObject({ state: 'busy', source: 'screen', reason: 'working… on it' });
    show(session, 'done.\n> ');
    await clock.advance(QUIET_MS + MARGIN_MS - 1);
    expect(tracker.state).toBe('busy');
    expect(tracker.quietFor).toBe(QUIET_MS + MARGIN_MS - 1);
    await clock.advance(1);
    expect(trail()).toEqual(['idle: ready', 'busy: working… on it', 'idle: output settled']);
    expect(tracker.activity).toBe(1);
  });

  it('a dialog is needs_input until it goes; then busy (answered), idle once quiet', async () => {
    const { session, clock, tracker, changes, trail } = await start(puppet);
    await clock.advance(QUIET_MS + MARGIN_MS);
    show(session, 'Allow this? rm -rf build (y/n)');
    await clock.advance(SETTLE_MS);
    expect(tracker.status).toMatchObject({ state: 'needs_input', source: 'screen' });
    expect(changes.at(-1)!.excerpt).toBe('Allow this? rm -rf build (y/n)');
    // The dialog stays up: no amount of quiet makes it anything else.
    await clock.advance(10 * QUIET_MS);
    expect(tracker.state).toBe('needs_input');
    show(session, '> ');
    // The change is read SETTLE_MS after it, not at the next of the dialog's quiet_ms checks.
    await clock.advance(SETTLE_MS - 1);
    expect(tracker.state).toBe('needs_input');
    await clock.advance(1);
    expect(tracker.status).toMatchObject({ state: 'busy', reason: 'approval answered' });
    await clock.advance(QUIET_MS + MARGIN_MS);
    expect(trail()).toEqual([
      'idle: ready',
      'needs_input: Allow this? rm -rf build (y/n)',
      'busy: approval answered',
      'idle: output settled',
    ]);
    expect(tracker.activity).toBe(2);
  });

  it('a runtime that reports its turn end gets 5 s of quiet to do so before the screen says idle', async () => {
    const { session, clock, tracker, trail } = await start(hooked);
    await clock.advance(QUIET_MS + MARGIN_MS);
    tracker.signal({ state: 'busy', reason: 'tool running' });
    show(session, 'the answer\n> ');
    // The prompt on screen does not end the turn before 5 s of quiet: the hook may yet report it.
    await clock.advance(SIGNAL_WAIT_MS + MARGIN_MS - 1);
    expect(tracker.status).toMatchObject({ state: 'busy', source: 'hook' });
    await clock.advance(1);
    expect(trail()).toEqual(['idle: ready', 'busy: tool running', 'idle: output settled']);
    tracker.signal({ state: 'busy', reason: 'next turn' });
    tracker.signal({ state: 'idle', reason: 'turn finished' });
    expect(tracker.status).toMatchObject({ state: 'idle', reason: 'turn finished', source: 'hook' });
  });

  it('muted while a prompt is pasted: signals then are not status', async () => {
    const { clock, tracker } = await start(hooked);
    await clock.advance(QUIET_MS + MARGIN_MS);
    tracker.muted = true;
    tracker.signal({ state: 'busy', reason: 'the paste alone' });
    expect(tracker.state).toBe('idle');
    tracker.muted = false;
    tracker.signal({ state: 'busy', reason: 'the prompt' });
    expect(tracker.state).toBe('busy');
  });

  it('a prompt Tower submitted is assumed busy, and a channel confirming it is no new entry', async () => {
    const { session, clock, tracker, trail } = await start(puppet);
    await clock.advance(QUIET_MS + MARGIN_MS);
    tracker.promptSubmitted();
    expect(tracker.status).toMatchObject({ state: 'busy', source: 'prompt' });
    show(session, 'working… on the prompt');
    await clock.advance(SETTLE_MS);
    expect(tracker.status).toMatchObject({
      state: 'busy',
      source: 'screen',
      reason: 'working… on the prompt',
    });
    expect(trail()).toEqual(['idle: ready', 'busy: prompt submitted']);
    expect(tracker.activity).toBe(0);
  });

  it('the shell is idle at its prompt after 250 ms of quiet, read from its foreground process', async () => {
    const { clock, tracker, trail } = await start(shell, '$ ');
    await clock.advance(250 + MARGIN_MS - 1);
    expect(tracker.state).toBe('starting');
    await clock.advance(1);
    expect(trail()).toEqual(['idle: at the shell prompt']);
  });

  it('stops at the exit: exited, and no timer is left behind', async () => {
    const { session, clock, tracker } = await start(puppet);
    await manager.close(session.id);
    expect(tracker.status).toMatchObject({ state: 'exited', reason: 'killed by signal 1' });
    expect(clock.nextTimerIn).toBeNull();
  });
});
