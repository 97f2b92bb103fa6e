/**
 * One session's prompt queue. A prompt is delivered only while the agent is idle and its input line
 * holds no draft of the user's, one at a time, in order: pasted (bracketed when the program enabled
 * it), then the submit key, then verified — the status channel moved, or the screen shows the input
 * was taken. Unverified submits are retried, then reported as a failure with what the screen shows.
 * A draft is never typed over nor cleared: the queue waits for the user to send or erase it, for at
 * most the runtime's draft_wait_ms, then fails its prompts saying why.
 */
import { randomBytes } from 'node:crypto';
import type { PromptInfo } from '../protocol/index.js';
import { TowerError } from '../protocol/index.js';
import { type Clock, type ClockTimer, systemClock } from '../state/clock.js';
import { TypedInput } from './draft.js';
import type { AgentSession } from './ports.js';
import { compileInputPatterns, type InputPatterns, readInputLine } from './screen-patterns.js';
import type { RuntimeSpec } from './spec.js';
import type { StatusChange, StatusTracker } from './status.js';

const MAX_SUBMITS = 3;
const VERIFY_MS = 2500;
const VERIFY_POLL_MS = 100;
/** Finished prompts kept per session (in memory and in tower.db). */
export const RECENT_KEPT = 20;
/** Prompts one session may hold waiting; past it send_prompt fails with queue_full. */
export const MAX_QUEUED_PROMPTS = 100;
/** How often a queue held by a draft looks at the input line again. */
const DRAFT_POLL_MS = 500;
const DRAFT_WAITING =
  'the input line holds a draft (typed, not sent); it goes in once that is sent or cleared';

export class PromptQueue {
  private readonly waiting: PromptInfo[] = [];
  private current: PromptInfo | null = null;
  private readonly recent: PromptInfo[] = [];
  private activityAtSubmit = 0;
  private readonly typedInput: TypedInput;
  private readonly input: InputPatterns;
  /** Reading the input line before a delivery: no second decision meanwhile. */
  private deciding = false;
  /** Since when a draft has held the queue. */
  private draftSince: number | null = null;
  private recheck: ClockTimer | undefined;

  constructor(
    private readonly session: AgentSession,
    private readonly tracker: StatusTracker,
    private readonly prompt: RuntimeSpec['prompt'],
    private readonly onChange: (prompt: PromptInfo) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.input = compileInputPatterns(prompt);
    this.typedInput = new TypedInput(clock);
  }

  get length(): number {
    return this.waiting.length;
  }

  /** Delivering, holding prompts, or the user may have a draft on the input line. */
  get busy(): boolean {
    return this.current !== null || this.waiting.length > 0 || this.typedInput.pending;
  }

  list(): PromptInfo[] {
    return [...this.recent, ...(this.current ? [this.current] : []), ...this.waiting];
  }

  /** Resolves once the queue decided: delivering, or queued (with why, when it is not the agent's state). */
  async enqueue(text: string): Promise<PromptInfo> {
    if (this.session.ended) {
      throw new TowerError(
        'session_not_running',
        `session ${this.session.id} is ${this.session.meta.status}`,
      );
    }
    if (this.waiting.length >= MAX_QUEUED_PROMPTS) {
      throw new TowerError(
        'queue_full',
        `session ${this.session.id} already holds ${MAX_QUEUED_PROMPTS} queued prompts; wait or cancel some`,
      );
    }
    const prompt: PromptInfo = {
      id: `p-${randomBytes(4).toString('hex')}`,
      session_id: this.session.id,
      text,
      state: 'queued',
      attempts: 0,
      queued_at: new Date(this.clock.now()).toISOString(),
      delivered_at: null,
      error: null,
      waiting: null,
    };
    this.waiting.push(prompt);
    this.changed(prompt);
    await this.pump();
    return { ...prompt };
  }

  /**
   * Prompts of this session kept from an earlier control plane: finished ones are recent, the rest
   * wait again (one cut off while delivering is sent again: its paste may not have arrived).
   */
  restore(prompts: PromptInfo[]): void {
    for (const prompt of prompts) {
      if (prompt.state === 'queued' || prompt.state === 'delivering') {
        this.waiting.push({ ...prompt, state: 'queued' });
      } else {
        this.recent.push(prompt);
      }
    }
    this.recent.splice(0, Math.max(0, this.recent.length - RECENT_KEPT));
    this.session.queuedPrompts = this.waiting.length;
    this.pumpSafely();
  }

  /** A client typed into the session (never Tower's own prompts). */
  typed(data: Buffer): void {
    this.typedInput.typed(data, this.tracker.activity);
  }

  /** The agent's status moved: keys typed before it went busy or answered a dialog were taken. */
  statusChanged(change: StatusChange): void {
    const { state } = change.status;
    if (state === 'busy' || state === 'needs_input' || change.previous.state === 'needs_input') {
      this.typedInput.clear();
    }
    this.pumpSafely();
  }

  stop(): void {
    this.clock.clearTimeout(this.recheck);
  }

  /** Returns the cancelled prompt, or null when the id is not queued here. */
  cancel(id: string): PromptInfo | null {
    const index = this.waiting.findIndex((prompt) => prompt.id === id);
    if (index === -1) return null;
    const [prompt] = this.waiting.splice(index, 1);
    this.finish(prompt!, 'cancelled', null);
    return prompt!;
  }

  /** Deliver the next prompt if the agent is idle and the input line holds no draft. */
  private async pump(): Promise<void> {
    if (this.current || this.deciding || this.waiting.length === 0) return;
    this.clock.clearTimeout(this.recheck);
    if (this.session.ended) {
      for (const prompt of this.waiting.splice(0)) this.finish(prompt, 'failed', 'the session ended first');
      return;
    }
    if (this.tracker.state !== 'idle') return;
    this.deciding = true;
    let draft: boolean;
    try {
      draft = await this.holdsDraft();
    } finally {
      this.deciding = false;
    }
    if (this.session.ended || this.tracker.state !== 'idle') return this.pump();
    if (draft) return this.holdForDraft();
    this.draftSince = null;
    const submitted = this.typedInput.submitted;
    const settling = submitted && this.tracker.activity === submitted.activity;
    const sinceSubmit = settling ? this.clock.now() - submitted.at : Number.POSITIVE_INFINITY;
    if (sinceSubmit < this.tracker.quietMs) {
      // The user just sent something by hand: give the agent time to show it is busy with it.
      this.recheckIn(this.tracker.quietMs - sinceSubmit);
      return;
    }
    const prompt = this.waiting.shift();
    if (!prompt) return;
    for (const other of this.waiting) this.setWaiting(other, null);
    this.current = prompt;
    prompt.state = 'delivering';
    prompt.waiting = null;
    this.changed(prompt);
    this.deliver(prompt).then(
      (error) => this.settle(prompt, error),
      (error: unknown) => this.settle(prompt, (error as Error).message),
    );
  }

  /** Keys a client typed are still on the input line (or the screen cannot tell they are gone). */
  private async holdsDraft(): Promise<boolean> {
    if (!this.typedInput.pending) return false;
    const screen = await this.session.text().catch(() => null);
    const held = screen ? readInputLine(screen.text, this.input) : null;
    if (held === '') this.typedInput.clear();
    return held !== '';
  }

  private holdForDraft(): void {
    const now = this.clock.now();
    this.draftSince ??= now;
    const left = this.prompt.draft_wait_ms - (now - this.draftSince);
    if (left <= 0) {
      this.draftSince = null;
      const error =
        `the input line held a draft for ${Math.round(this.prompt.draft_wait_ms / 1000)} s; ` +
        'Tower never types over a draft: submit or clear it, then send the prompt again';
      for (const prompt of this.waiting.splice(0)) this.finish(prompt, 'failed', error);
      return;
    }
    for (const prompt of this.waiting) this.setWaiting(prompt, DRAFT_WAITING);
    this.recheckIn(Math.min(DRAFT_POLL_MS, left));
  }

  private setWaiting(prompt: PromptInfo, waiting: string | null): void {
    if (prompt.waiting === waiting) return;
    prompt.waiting = waiting;
    this.changed(prompt);
  }

  private recheckIn(ms: number): void {
    this.clock.clearTimeout(this.recheck);
    this.recheck = this.clock.setTimeout(() => this.pumpSafely(), ms);
    this.recheck.unref();
  }

  private settle(prompt: PromptInfo, error: string | null): void {
    this.current = null;
    if (error) this.finish(prompt, 'failed', error);
    else {
      prompt.delivered_at = new Date(this.clock.now()).toISOString();
      this.finish(prompt, 'delivered', null);
      // Only the screen saw it taken: assume busy until a channel says otherwise. When a channel saw
      // it, the channel is already tracking the turn, which may even be over.
      if (this.tracker.activity === this.activityAtSubmit) this.tracker.promptSubmitted();
    }
    this.pumpSafely();
  }

  /** From an event or a timer: a failure fails the waiting prompts, never the daemon. */
  private pumpSafely(): void {
    this.pump().catch((error: unknown) => {
      this.deciding = false;
      const reason = `internal error: ${(error as Error).message}`;
      for (const prompt of this.waiting.splice(0)) this.finish(prompt, 'failed', reason);
    });
  }

  /** Resolves to null once the agent took the prompt, or to why it did not. */
  private async deliver(prompt: PromptInfo): Promise<string | null> {
    const typedBefore = this.typedInput.count;
    const before = await this.session.text();
    const paste = this.prompt.paste === 'bracketed' && before.bracketedPaste;
    this.tracker.muted = true;
    try {
      this.session.write(paste ? `\x1b[200~${prompt.text}\x1b[201~` : prompt.text);
      await this.clock.sleep(this.prompt.submit_delay_ms);
    } finally {
      this.tracker.muted = false;
    }
    const activity = this.tracker.activity;
    this.activityAtSubmit = activity;
    const tail = lastLineTail(prompt.text);
    let lastScreen = before.text;
    for (let attempt = 1; attempt <= MAX_SUBMITS; attempt++) {
      if (attempt > 1) await this.clock.sleep(this.prompt.submit_delay_ms);
      if (this.session.ended) return 'the session ended during delivery';
      if (this.typedInput.count !== typedBefore) {
        return 'someone typed into the session during delivery, so Tower stopped before submitting: the input line may hold both';
      }
      const typed = await this.session.text();
      this.session.write(this.prompt.submit);
      prompt.attempts = attempt;
      this.changed(prompt);
      const deadline = this.clock.now() + VERIFY_MS;
      while (this.clock.now() < deadline) {
        await this.clock.sleep(VERIFY_POLL_MS);
        if (this.session.ended) return 'the session ended during delivery';
        if (this.tracker.activity !== activity) return null;
        const now = await this.session.text();
        lastScreen = now.text;
        if (now.text !== typed.text && !cursorRow(now.text, now.cursorY).includes(tail)) return null;
      }
    }
    const shown = cursorRow(lastScreen, before.cursorY).trim() || '(blank)';
    return `the agent did not take the prompt after ${MAX_SUBMITS} submits over ${
      (MAX_SUBMITS * (VERIFY_MS + this.prompt.submit_delay_ms)) / 1000
    } s; its input line shows: ${shown.slice(0, 120)}`;
  }

  private finish(
    prompt: PromptInfo,
    state: 'delivered' | 'failed' | 'cancelled',
    error: string | null,
  ): void {
    prompt.state = state;
    prompt.error = error;
    this.recent.push(prompt);
    if (this.recent.length > RECENT_KEPT) this.recent.shift();
    this.changed(prompt);
  }

  private changed(prompt: PromptInfo): void {
    this.session.queuedPrompts = this.waiting.length;
    this.onChange({ ...prompt });
  }
}

function lastLineTail(text: string): string {
  const lines = text.trimEnd().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(-24);
}

function cursorRow(text: string, row: number): string {
  return text.split('\n')[row] ?? '';
}
