/**
 * The prompt composer: write a prompt once and send it to one or several sessions through
 * POST /api/sessions/:id/prompt. The daemon types it (as a paste), submits it and checks the agent
 * took it; while an agent is busy the prompt waits in its queue. Below the text: the prompts sent
 * from here and every prompt still waiting, with their state live from /api/events; a queued one
 * can be cancelled. Until the user picks targets, it follows the focused session.
 * While an agent asks (needs input), what is sent to it is typed straight in as keys instead ("1",
 * "y"; a new line is Enter), and the composer says so: a prompt would only wait behind the question.
 * On a phone it is the main way to type; the terminal above it is for reading.
 */
import { api } from './api.js';
import { h, icon } from './dom.js';
import type { KeyInput } from './keys.js';
import { sessionState, sessionTitle } from './status-badge.js';
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
  /** Says which checked agents are asking, and that text goes to them as keys. */
  private readonly direct: HTMLElement;
  private readonly send: HTMLButtonElement;
  private readonly sendLabel: Text;
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
    private readonly input: KeyInput,
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
    this.direct = h('div.composer-direct', { role: 'note', hidden: true });
    this.sendLabel = document.createTextNode('Send');
    this.send = h(
      'button.primary.composer-send',
      { type: 'button', title: 'send (Enter)', onclick: () => void this.submit() },
      icon('send'),
      this.sendLabel,
    );
    this.queue = h('ul.composer-queue', { 'aria-label': 'prompts' });
    this.element = h(
      'section.composer',
      { 'aria-label': 'prompt composer' },
      this.direct,
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
    this.renderDirect();
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

  /** The checked sessions whose agent asks right now: they get keys, not prompts. */
  private asking(ids: Iterable<string>): string[] {
    return [...ids].filter((id) => {
      const session = this.store.sessions.get(id);
      return session !== undefined && sessionState(session) === 'needs_input';
    });
  }

  private renderDirect(): void {
    const asking = this.asking(this.selected);
    const names = asking.map((id) => sessionTitle(this.store.sessions.get(id), id)).join(', ');
    const text =
      asking.length === 0
        ? ''
        : `${names} ${asking.length === 1 ? 'asks' : 'ask'}: what you send goes straight in as keys ` +
          '(1, y, …), not as a prompt. A new line is Enter.';
    if (this.direct.textContent === text) return;
    this.direct.textContent = text;
    this.direct.hidden = asking.length === 0;
    const all = asking.length > 0 && asking.length === this.selected.size;
    this.sendLabel.data = all ? 'Answer' : 'Send';
    this.text.placeholder = all ? 'Keys for the question (e.g. 1)' : 'Prompt for the checked sessions';
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
    const asking = this.asking(targets);
    const prompted = targets.filter((id) => !asking.includes(id));
    this.send.disabled = true;
    const [typed, results] = await Promise.all([
      // A terminal's Enter is a carriage return.
      Promise.all(asking.map((id) => this.input.send(id, text.replace(/\r?\n/g, '\r')))),
      Promise.allSettled(prompted.map((id) => api.prompt(id, text))),
    ]);
    this.send.disabled = false;
    const title = (id: string) => sessionTitle(this.store.sessions.get(id), id);
    const answered = asking.filter((_, i) => typed[i]).map(title);
    const sentTo: string[] = [];
    const queuedFor: string[] = [];
    const failed = asking.filter((_, i) => !typed[i]).map((id) => `${title(id)}: keys not typed`);
    results.forEach((result, i) => {
      const id = prompted[i]!;
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
    if (answered.length > 0) parts.push(`Typed into ${answered.join(', ')} (asking).`);
    if (sentTo.length > 0) parts.push(`Sent to ${sentTo.join(', ')}.`);
    if (queuedFor.length > 0) parts.push(`Queued for ${queuedFor.join(', ')} (delivered once idle).`);
    if (failed.length > 0) parts.push(`Not sent to ${failed.join('; ')}`);
    else this.text.value = '';
    this.status.textContent = parts.join(' ');
  }
}
