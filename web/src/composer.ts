/**
 * The prompt composer: write a prompt once and send it to one or several sessions through
 * POST /api/sessions/:id/prompt. The daemon types it (as a paste), submits it and checks the agent
 * took it; while an agent is busy the prompt waits in its queue. Below the text: the prompts sent
 * from here and every prompt still waiting, with their state live from /api/events; a queued one
 * can be cancelled. Until the user picks targets, it follows the focused session.
 * On a phone it is the main way to type; the terminal above it is for reading.
 */
import { api } from './api.js';
import { h, icon } from './dom.js';
import { sessionTitle } from './status-badge.js';
import { isPending, type Store } from './store.js';
import type { PromptInfo } from './types.js';

/** Prompts sent from this page that stay listed after they are delivered. */
const KEEP_SENT = 5;

const STATE_TEXT: Record<PromptInfo['state'], string> = {
  queued: 'queued',
  delivering: 'sending…',
  delivered: 'delivered',
  failed: 'failed',
  cancelled: 'cancelled',
};

export class Composer {
  readonly element: HTMLElement;
  private readonly text: HTMLTextAreaElement;
  private readonly targets: HTMLElement;
  private readonly status: HTMLElement;
  private readonly send: HTMLButtonElement;
  private readonly queue: HTMLElement;
  private readonly selected = new Set<string>();
  /** Ids of the prompts sent from here, oldest first. */
  private sent: string[] = [];
  private followFocus = true;
  /** What the targets and the queue were last drawn from: redraw only when it changes. */
  private drawn = '';
  private drawnQueue = '';

  constructor(
    private readonly store: Store,
    private readonly onError: (message: string) => void = () => {},
  ) {
    this.text = h('textarea.composer-text', {
      rows: 2,
      placeholder: 'Prompt for the checked sessions',
      title: 'Enter sends (a busy agent gets it when it is idle); Shift+Enter adds a line',
      'aria-label': 'prompt',
      onkeydown: (event: KeyboardEvent) => {
        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          void this.submit();
        }
      },
    });
    this.targets = h('div.composer-targets', { role: 'group', 'aria-label': 'send to' });
    this.status = h('span.composer-status', { role: 'status' });
    this.send = h(
      'button.primary.composer-send',
      { type: 'button', title: 'send (Enter)', onclick: () => void this.submit() },
      icon('send'),
      'Send',
    );
    this.queue = h('ul.composer-queue', { 'aria-label': 'prompts' });
    this.element = h(
      'section.composer',
      { 'aria-label': 'prompt composer' },
      h('div.composer-row', null, this.text, this.send),
      h('div.composer-footer', null, this.targets, this.status),
      this.queue,
    );
    store.subscribe(() => this.render());
    this.render();
  }

  focus(): void {
    this.text.focus();
  }

  render(): void {
    const running = this.store.list().filter((session) => session.status === 'running');
    const ids = new Set(running.map((session) => session.id));
    for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
    if (this.followFocus) {
      this.selected.clear();
      if (this.store.focused !== null && ids.has(this.store.focused)) this.selected.add(this.store.focused);
    }
    this.element.hidden = !this.store.canControl;
    this.renderQueue();
    const key = JSON.stringify([running.map((s) => [s.id, s.name]), [...this.selected]]);
    if (key === this.drawn) return;
    this.drawn = key;
    this.targets.replaceChildren(
      ...(running.length === 0 ? [h('span.hint', null, 'no running session')] : []),
      ...running.map((session) =>
        h(
          'label.composer-target',
          null,
          h('input', {
            type: 'checkbox',
            checked: this.selected.has(session.id),
            dataset: { sessionId: session.id },
            onchange: (event: Event) => {
              this.followFocus = false;
              if ((event.target as HTMLInputElement).checked) this.selected.add(session.id);
              else this.selected.delete(session.id);
              this.drawn = JSON.stringify([running.map((s) => [s.id, s.name]), [...this.selected]]);
            },
          }),
          sessionTitle(session, session.id),
        ),
      ),
    );
  }

  /** Prompts sent from here (the last few) and every prompt still waiting or on its way. */
  private renderQueue(): void {
    const sent = new Set(this.sent);
    const shown = [...this.store.prompts.values()]
      .filter((prompt) => sent.has(prompt.id) || isPending(prompt))
      .sort((a, b) => a.queued_at.localeCompare(b.queued_at));
    const key = JSON.stringify(shown.map((p) => [p.id, p.state, p.error]));
    if (key === this.drawnQueue) return;
    this.drawnQueue = key;
    this.queue.hidden = shown.length === 0;
    this.queue.replaceChildren(...shown.map((prompt) => this.promptItem(prompt)));
  }

  private promptItem(prompt: PromptInfo): HTMLElement {
    const session = this.store.sessions.get(prompt.session_id);
    const firstLine = prompt.text.split('\n')[0] ?? '';
    return h(
      'li.prompt-item',
      { dataset: { promptId: prompt.id, sessionId: prompt.session_id, state: prompt.state } },
      h('span.prompt-session', null, sessionTitle(session, prompt.session_id)),
      h('span.prompt-text', { title: prompt.text }, firstLine),
      h(
        'span.prompt-state',
        { dataset: { state: prompt.state }, title: prompt.error ?? '' },
        prompt.state === 'failed' && prompt.error ? `failed: ${prompt.error}` : STATE_TEXT[prompt.state],
      ),
      prompt.state === 'queued'
        ? h(
            'button.link-button.cancel-prompt',
            { type: 'button', title: 'cancel this queued prompt', onclick: () => void this.cancel(prompt) },
            'cancel',
          )
        : null,
    );
  }

  private async cancel(prompt: PromptInfo): Promise<void> {
    try {
      this.store.upsertPrompt(await api.cancelPrompt(prompt.id));
    } catch (error) {
      this.onError(`Could not cancel the prompt: ${(error as Error).message}`);
    }
  }

  private async submit(): Promise<void> {
    const text = this.text.value;
    const targets = [...this.selected];
    if (text.trim() === '') return;
    if (targets.length === 0) {
      this.status.textContent = 'Check at least one session.';
      return;
    }
    this.send.disabled = true;
    const results = await Promise.allSettled(targets.map((id) => api.prompt(id, text)));
    this.send.disabled = false;
    const title = (id: string) => sessionTitle(this.store.sessions.get(id), id);
    const sentTo: string[] = [];
    const queuedFor: string[] = [];
    const failed: string[] = [];
    results.forEach((result, i) => {
      const id = targets[i]!;
      if (result.status === 'rejected') {
        failed.push(`${title(id)}: ${(result.reason as Error).message}`);
        return;
      }
      const prompt = result.value;
      this.sent = [...this.sent.filter((sentId) => sentId !== prompt.id), prompt.id].slice(-KEEP_SENT);
      // The event stream may already have brought a later state: keep that one.
      if (!this.store.prompts.has(prompt.id)) this.store.upsertPrompt(prompt);
      (prompt.state === 'queued' ? queuedFor : sentTo).push(title(id));
    });
    this.renderQueue();
    const parts: string[] = [];
    if (sentTo.length > 0) parts.push(`Sent to ${sentTo.join(', ')}.`);
    if (queuedFor.length > 0) parts.push(`Queued for ${queuedFor.join(', ')} (delivered once idle).`);
    if (failed.length > 0) parts.push(`Not sent to ${failed.join('; ')}`);
    else this.text.value = '';
    this.status.textContent = parts.join(' ');
  }
}
