/**
 * The prompt composer: write a prompt once and send it (then Enter) to one or several sessions, via
 * POST /api/sessions/:id/input. Until the user picks targets, it follows the focused session.
 * On a phone it is the main way to type; the terminal above it is for reading.
 */
import { api } from './api.js';
import { h, icon } from './dom.js';
import { sessionTitle } from './status-badge.js';
import type { Store } from './store.js';

export class Composer {
  readonly element: HTMLElement;
  private readonly text: HTMLTextAreaElement;
  private readonly targets: HTMLElement;
  private readonly status: HTMLElement;
  private readonly send: HTMLButtonElement;
  private readonly selected = new Set<string>();
  private followFocus = true;
  /** What the targets were last drawn from: redraw only when it changes. */
  private drawn = '';

  constructor(private readonly store: Store) {
    this.text = h('textarea.composer-text', {
      rows: 2,
      placeholder: 'Prompt for the checked sessions',
      title: 'Enter sends (then Enter in each session); Shift+Enter adds a line',
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
    this.element = h(
      'section.composer',
      { 'aria-label': 'prompt composer' },
      h('div.composer-row', null, this.text, this.send),
      h('div.composer-footer', null, this.targets, this.status),
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

  private async submit(): Promise<void> {
    const text = this.text.value;
    const targets = [...this.selected];
    if (text.trim() === '') return;
    if (targets.length === 0) {
      this.status.textContent = 'Check at least one session.';
      return;
    }
    this.send.disabled = true;
    // Each line as typed, then Enter. (Agents get their own prompt injection with the agents layer.)
    const data = `${text.replace(/\r?\n/g, '\r')}\r`;
    const results = await Promise.allSettled(targets.map((id) => api.input(id, data)));
    this.send.disabled = false;
    const failed = results
      .map((result, i) =>
        result.status === 'rejected' ? `${targets[i]}: ${(result.reason as Error).message}` : null,
      )
      .filter((line): line is string => line !== null);
    if (failed.length === 0) {
      this.text.value = '';
      this.status.textContent = `Sent to ${targets.length} session${targets.length === 1 ? '' : 's'}.`;
    } else {
      this.status.textContent = `Not sent to ${failed.join('; ')}`;
    }
  }
}
