/**
 * The session list: name or id, status (the agent's state while it runs), runtime, queued prompts,
 * command, cwd, substrate (unless local) and host of every session; click to open. A session restarted
 * into a new one is listed under it, collapsed, not on its own. With peers, sessions are grouped by
 * machine: this Tower first, then each peer with its state (stale: its last known sessions).
 */
import { h, icon } from './dom.js';
import { commandLine, queueTag, runtimeTag, sessionTitle, statusBadge } from './status-badge.js';
import type { Store } from './store.js';
import type { PeerStatus, SessionInfo } from './types.js';

type Group = { session: SessionInfo; earlier: SessionInfo[] };

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
    const groups = this.store.grouped();
    const visible = new Set(this.store.panes);
    this.spawnButton.hidden = !this.store.canControl;
    this.empty.hidden = groups.length > 0;
    const queued = this.store.list().map((session) => this.store.queued(session.id));
    const peers = this.store.peers;
    const key = JSON.stringify([
      groups,
      peers,
      queued,
      [...visible],
      this.store.focused,
      this.store.canControl,
    ]);
    if (key === this.drawn) return;
    // Keep a group the user expanded open across redraws.
    const expanded = new Set(
      [...this.list.querySelectorAll<HTMLDetailsElement>('details.session-earlier[open]')].map(
        (details) => details.dataset.sessionId,
      ),
    );
    this.drawn = key;
    const items = (list: Group[]) =>
      list.map(({ session, earlier }) => {
        const item = this.item(session, visible);
        if (earlier.length > 0)
          item.append(this.earlier(session.id, earlier, visible, expanded.has(session.id)));
        return item;
      });
    if (peers.length === 0) {
      this.list.replaceChildren(...items(groups));
      return;
    }
    this.list.replaceChildren(
      machineHead(location.host, null),
      ...items(groups.filter(({ session }) => session.peer === undefined)),
      ...peers.flatMap((peer) => [
        machineHead(peer.name, peer),
        ...items(groups.filter(({ session }) => session.peer === peer.name)),
      ]),
    );
  }

  /** The sessions this one replaced, in a collapsed group under it. */
  private earlier(id: string, sessions: SessionInfo[], visible: Set<string>, open: boolean): HTMLElement {
    const count = `${sessions.length} earlier session${sessions.length === 1 ? '' : 's'}`;
    return h(
      'details.session-earlier',
      {
        open,
        dataset: { sessionId: id },
        // Its clicks and keys are its own, not the item's it sits in.
        onclick: (event: Event) => event.stopPropagation(),
        onkeydown: (event: Event) => event.stopPropagation(),
      },
      h('summary', { title: 'sessions this one was restarted from' }, count),
      h('ul', null, ...sessions.map((session) => this.item(session, visible))),
    );
  }

  private item(session: SessionInfo, visible: Set<string>): HTMLElement {
    const shown = visible.has(session.id);
    const queued = this.store.queued(session.id);
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
        session.substrate === 'local'
          ? null
          : h('span.session-substrate', { title: 'runs on' }, session.substrate),
        h('span.session-host', null, session.peer ?? location.host),
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

/** A machine's heading in the grouped list: this Tower (no status), or a peer and how it answered. */
function machineHead(name: string, peer: PeerStatus | null): HTMLElement {
  const state = peer === null ? 'this tower' : peer.stale ? `${peer.state}, stale` : peer.state;
  return h(
    `li.machine-head${peer && peer.state !== 'online' ? '.machine-down' : ''}`,
    { dataset: { machine: peer?.name ?? '', state: peer?.state ?? 'local' }, title: peer?.error ?? name },
    h('span.machine-name', null, name),
    h('span.machine-state', null, state),
  );
}
