/**
 * The session list: name or id, status (the agent's state while it runs), runtime, queued prompts,
 * command, cwd and host of every session; click to open.
 */
import { h, icon } from './dom.js';
import { commandLine, queueTag, runtimeTag, sessionTitle, statusBadge } from './status-badge.js';
import type { Store } from './store.js';
import type { SessionInfo } from './types.js';

export interface SidebarActions {
  spawn(): void;
  kill(id: string): void;
  remove(id: string): void;
  restart(id: string): void;
  open(id: string): void;
}

export class Sidebar {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly spawnButton: HTMLButtonElement;
  private drawn = '';

  constructor(
    private readonly store: Store,
    private readonly actions: SidebarActions,
    header: HTMLElement,
  ) {
    this.spawnButton = h(
      'button.primary.spawn-button',
      { type: 'button', onclick: () => actions.spawn(), 'data-testid': 'spawn' },
      icon('plus'),
      'New session',
    );
    this.list = h('ul.session-list', { 'aria-label': 'sessions' });
    this.empty = h('p.empty', null, 'No sessions yet.');
    this.element = h('aside.sidebar', null, header, this.spawnButton, this.list, this.empty);
    store.subscribe(() => this.render());
    this.render();
  }

  render(): void {
    const sessions = this.store.list();
    const visible = new Set(this.store.panes);
    this.spawnButton.hidden = !this.store.canControl;
    this.empty.hidden = sessions.length > 0;
    const queued = sessions.map((session) => this.store.queued(session.id));
    const key = JSON.stringify([sessions, queued, [...visible], this.store.focused, this.store.canControl]);
    if (key === this.drawn) return;
    this.drawn = key;
    this.list.replaceChildren(
      ...sessions.map((session, i) => this.item(session, visible.has(session.id), queued[i] ?? 0)),
    );
  }

  private item(session: SessionInfo, shown: boolean, queued: number): HTMLElement {
    const actions: HTMLElement[] = [];
    if (this.store.canControl) {
      if (session.status === 'running') {
        actions.push(
          h(
            'button.icon-button.danger',
            {
              type: 'button',
              title: 'hang up (kill) this session (asks first)',
              onclick: this.stop(() => this.actions.kill(session.id)),
            },
            icon('kill'),
          ),
        );
      } else {
        actions.push(
          h(
            'button.icon-button.restart-button',
            {
              type: 'button',
              title: 'restart: a new session in the same directory (resuming the conversation if it can)',
              onclick: this.stop(() => this.actions.restart(session.id)),
            },
            icon('restart'),
          ),
          h(
            'button.icon-button',
            {
              type: 'button',
              title: 'delete this session and its output for good (asks first)',
              onclick: this.stop(() => this.actions.remove(session.id)),
            },
            icon('trash'),
          ),
        );
      }
    }
    const title = sessionTitle(session, session.id);
    return h(
      `li.session-item${shown ? '.shown' : ''}${this.store.focused === session.id ? '.focused' : ''}`,
      {
        dataset: { sessionId: session.id, status: session.status, agentState: session.agent?.state },
        tabIndex: 0,
        title: `open ${title}`,
        onclick: () => this.actions.open(session.id),
        onkeydown: (event: KeyboardEvent) => {
          if (event.key === 'Enter') this.actions.open(session.id);
        },
      },
      h('div.session-head', null, h('span.session-name', null, title), statusBadge(session), ...actions),
      h(
        'div.session-command',
        { title: commandLine(session) },
        runtimeTag(session),
        queueTag(queued),
        h('span.session-command-line', null, commandLine(session)),
      ),
      h(
        'div.session-meta',
        null,
        h('span.session-cwd', { title: session.cwd }, session.cwd),
        h('span.session-host', null, location.host),
      ),
    );
  }

  private stop(action: () => void): (event: Event) => void {
    return (event) => {
      event.stopPropagation();
      action();
    };
  }
}
