/**
 * One session's prompt queue. A prompt is delivered only while the agent is idle, one at a time, in
 * order: pasted (bracketed when the program enabled it), then the submit key, then verified — the
 * status channel moved, or the screen shows the input was taken. Unverified submits are retried,
 * then reported as a failure with what the screen shows.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PromptInfo } from '../protocol/index.js';
import { TowerError } from '../protocol/index.js';
import type { Session } from '../sessions/session.js';
import type { RuntimeSpec } from './spec.js';
import type { StatusTracker } from './status.js';

const MAX_SUBMITS = 3;
const VERIFY_MS = 2500;
const VERIFY_POLL_MS = 100;
const RECENT_KEPT = 20;

export class PromptQueue {
  private readonly waiting: PromptInfo[] = [];
  private current: PromptInfo | null = null;
  private readonly recent: PromptInfo[] = [];
  private activityAtSubmit = 0;

  constructor(
    private readonly session: Session,
    private readonly tracker: StatusTracker,
    private readonly prompt: RuntimeSpec['prompt'],
    private readonly onChange: (prompt: PromptInfo) => void,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  get busy(): boolean {
    return this.current !== null || this.waiting.length > 0;
  }

  list(): PromptInfo[] {
    return [...this.recent, ...(this.current ? [this.current] : []), ...this.waiting];
  }

  enqueue(text: string): PromptInfo {
    if (this.session.ended) {
      throw new TowerError(
        'session_not_running',
        `session ${this.session.id} is ${this.session.meta.status}`,
      );
    }
    const prompt: PromptInfo = {
      id: `p-${randomBytes(4).toString('hex')}`,
      session_id: this.session.id,
      text,
      state: 'queued',
      attempts: 0,
      queued_at: new Date().toISOString(),
      delivered_at: null,
      error: null,
    };
    this.waiting.push(prompt);
    this.changed(prompt);
    this.pump();
    return prompt;
  }

  /** Returns the cancelled prompt, or null when the id is not queued here. */
  cancel(id: string): PromptInfo | null {
    const index = this.waiting.findIndex((prompt) => prompt.id === id);
    if (index === -1) return null;
    const [prompt] = this.waiting.splice(index, 1);
    this.finish(prompt!, 'cancelled', null);
    return prompt!;
  }

  /** Deliver the next prompt if the agent is idle. Called on every status change. */
  pump(): void {
    if (this.current || this.waiting.length === 0) return;
    if (this.session.ended) {
      for (const prompt of this.waiting.splice(0)) this.finish(prompt, 'failed', 'the session ended first');
      return;
    }
    if (this.tracker.state !== 'idle') return;
    const prompt = this.waiting.shift()!;
    this.current = prompt;
    prompt.state = 'delivering';
    this.changed(prompt);
    this.deliver(prompt).then(
      (error) => this.settle(prompt, error),
      (error: unknown) => this.settle(prompt, (error as Error).message),
    );
  }

  private settle(prompt: PromptInfo, error: string | null): void {
    this.current = null;
    if (error) this.finish(prompt, 'failed', error);
    else {
      prompt.delivered_at = new Date().toISOString();
      this.finish(prompt, 'delivered', null);
      // Only the screen saw it taken: assume busy until a channel says otherwise. When a channel saw
      // it, the channel is already tracking the turn, which may even be over.
      if (this.tracker.activity === this.activityAtSubmit) this.tracker.promptSubmitted();
    }
    this.pump();
  }

  /** Resolves to null once the agent took the prompt, or to why it did not. */
  private async deliver(prompt: PromptInfo): Promise<string | null> {
    const before = await this.session.text();
    const paste = this.prompt.paste === 'bracketed' && before.bracketedPaste;
    this.tracker.muted = true;
    try {
      this.session.write(paste ? `\x1b[200~${prompt.text}\x1b[201~` : prompt.text);
      await sleep(this.prompt.submit_delay_ms);
    } finally {
      this.tracker.muted = false;
    }
    const activity = this.tracker.activity;
    this.activityAtSubmit = activity;
    const tail = lastLineTail(prompt.text);
    let lastScreen = before.text;
    for (let attempt = 1; attempt <= MAX_SUBMITS; attempt++) {
      if (attempt > 1) await sleep(this.prompt.submit_delay_ms);
      if (this.session.ended) return 'the session ended during delivery';
      const typed = await this.session.text();
      this.session.write(this.prompt.submit);
      prompt.attempts = attempt;
      this.changed(prompt);
      const deadline = Date.now() + VERIFY_MS;
      while (Date.now() < deadline) {
        await sleep(VERIFY_POLL_MS);
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
