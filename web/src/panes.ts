/**
 * The split view: one pane per visible session (1–4; one on a phone), each a header and a
 * TerminalView. Views are created when a session becomes visible and disposed (WebSocket closed)
 * when it is hidden; showing it again starts from a snapshot. While an agent asks, its header has
 * Approve and Deny (its runtime's answer keys).
 */
import { answerButtons } from './answer-buttons.js';
import { h, icon } from './dom.js';
import type { KeyInput } from './keys.js';
import { queueTag, runtimeTag, sessionState, sessionTitle, statusBadge } from './status-badge.js';
import type { Store } from './store.js';
import { TerminalView, type TerminalViewOptions } from './terminal-view.js';

export interface PaneActions extends Omit<TerminalViewOptions, 'role'> {
  kill(id: string): void;
  close(id: string): void;
}

interface Pane {
  element: HTMLElement;
  header: HTMLElement;
  view: TerminalView;
  drawn: string;
}

export class Panes {
  readonly element: HTMLElement;
  private readonly panes = new Map<string, Pane>();
  private readonly empty: HTMLElement;

  constructor(
    private readonly store: Store,
    private readonly actions: PaneActions,
    private readonly input: KeyInput,
  ) {
    this.empty = h(
      'div.panes-empty',
      null,
      h('p', null, 'Open a session from the list, or start a new one.'),
      h('p.hint', null, 'Ctrl+Shift+F finds text in a terminal; Ctrl+Shift+C / Ctrl+Shift+V copy and paste.'),
    );
    this.element = h('section.panes', { 'aria-label': 'terminals' });
    store.subscribe(() => this.render());
  }

  /** The view showing a session, if it is visible. */
  view(id: string): TerminalView | undefined {
    return this.panes.get(id)?.view;
  }

  render(): void {
    const narrow = this.actions.narrow();
    const ids = this.store.visible(narrow);
    for (const [id, pane] of this.panes) {
      if (!ids.includes(id)) {
        pane.view.dispose();
        pane.element.remove();
        this.panes.delete(id);
      }
    }
    const created: Pane[] = [];
    const elements = ids.map((id) => {
      let pane = this.panes.get(id);
      if (!pane) {
        pane = this.create(id);
        this.panes.set(id, pane);
        created.push(pane);
      }
      this.renderHeader(id, pane);
      pane.element.classList.toggle('focused', this.store.focused === id && ids.length > 1);
      return pane.element;
    });
    this.element.dataset.count = String(ids.length);
    // Move rather than re-create: xterm keeps its state when its element is re-inserted.
    elements.forEach((element, index) => {
      if (this.element.children[index] !== element)
        this.element.insertBefore(element, this.element.children[index] ?? null);
    });
    if (ids.length === 0) this.element.replaceChildren(this.empty);
    else this.empty.remove();
    for (const pane of created) {
      pane.view.mount();
      if (this.store.focused === pane.view.sessionId && !narrow) pane.view.focus();
    }
  }

  /** Focus the terminal of the focused session (after a tab click). */
  focusCurrent(): void {
    if (this.actions.narrow() || this.store.focused === null) return;
    this.panes.get(this.store.focused)?.view.focus();
  }

  private create(id: string): Pane {
    const view = new TerminalView(id, { ...this.actions, role: this.store.role });
    const header = h('header.pane-header');
    const element = h(
      'div.pane',
      {
        dataset: { sessionId: id },
        onfocusin: () => this.store.focus(id),
        onmousedown: () => this.store.focus(id),
      },
      header,
      view.element,
    );
    return { element, header, view, drawn: '' };
  }

  private renderHeader(id: string, pane: Pane): void {
    const session = this.store.sessions.get(id);
    const queued = this.store.queued(id);
    const asking = session?.status === 'running' && session.agent?.state === 'needs_input';
    const answers = asking && this.store.canControl ? this.store.answers(id) : null;
    const key = JSON.stringify([
      answers,
      session?.name,
      session && sessionState(session),
      session?.agent?.reason,
      session?.exit_code,
      session?.cwd,
      session?.runtime,
      queued,
      this.store.canControl,
    ]);
    if (key === pane.drawn) return;
    pane.drawn = key;
    const buttons: HTMLElement[] = [];
    if (session?.status === 'running' && this.store.canControl) {
      buttons.push(
        h(
          'button.icon-button.danger',
          { type: 'button', title: 'hang up (kill)', onclick: () => this.actions.kill(id) },
          icon('kill'),
        ),
      );
    }
    buttons.push(
      h(
        'button.icon-button',
        { type: 'button', title: 'close (the session keeps running)', onclick: () => this.actions.close(id) },
        icon('close'),
      ),
    );
    pane.header.replaceChildren(
      h('span.pane-title', { title: session?.cwd ?? '' }, sessionTitle(session, id)),
      ...(session ? [statusBadge(session), runtimeTag(session), queueTag(queued)] : []).filter(
        (element): element is HTMLElement => element !== null,
      ),
      pane.view.badges,
      h('span.spacer'),
      ...(answers ? [answerButtons(id, answers, this.input)] : []),
      ...buttons,
    );
  }
}
