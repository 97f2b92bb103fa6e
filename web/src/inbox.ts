/**
 * The attention inbox: sessions that want the user (one exited; later, with the agents layer, one
 * needs input or finished a turn). Each adds an entry, a browser notification when allowed, and a
 * count in the document title. Opening the inbox marks everything read; opening a session clears
 * its entries.
 */
import { h, icon } from './dom.js';
import { sessionTitle, statusText } from './status-badge.js';
import type { SessionInfo } from './types.js';

interface Entry {
  id: number;
  sessionId: string;
  title: string;
  text: string;
  at: Date;
  read: boolean;
}

/** Statuses that ask for the user when a session enters them (the agents layer's, later). */
const ATTENTION_STATUSES = new Set(['needs_input', 'needs-input', 'waiting', 'turn_finished']);
const BASE_TITLE = 'Tower';

export class Inbox {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;
  private readonly count: HTMLElement;
  private readonly list: HTMLElement;
  private readonly permission: HTMLButtonElement;
  private entries: Entry[] = [];
  private nextId = 1;
  private readonly lastStatus = new Map<string, string>();

  constructor(private readonly onOpen: (sessionId: string) => void) {
    this.count = h('span.count', { hidden: true });
    this.button = h(
      'button.icon-button.inbox-button',
      { type: 'button', title: 'attention inbox', 'aria-haspopup': 'true', onclick: () => this.toggle() },
      icon('bell'),
      this.count,
    );
    this.list = h('ul.inbox-list');
    this.permission = h(
      'button.link-button',
      { type: 'button', onclick: () => void this.askPermission() },
      'Turn on desktop notifications',
    );
    this.panel = h(
      'div.inbox-panel',
      { hidden: true, role: 'dialog', 'aria-label': 'attention inbox' },
      h(
        'div.inbox-head',
        null,
        h('strong', null, 'Inbox'),
        h('button.link-button', { type: 'button', onclick: () => this.clear() }, 'Clear'),
      ),
      this.list,
      this.permission,
    );
    document.addEventListener('mousedown', (event) => {
      const target = event.target as Node;
      if (!this.panel.hidden && !this.panel.contains(target) && !this.button.contains(target))
        this.panel.hidden = true;
    });
    this.render();
  }

  /** A session changed (from the event stream): does it want attention? */
  sessionChanged(event: string, session: SessionInfo): void {
    const before = this.lastStatus.get(session.id);
    this.lastStatus.set(session.id, session.status);
    if (event === 'exited') {
      this.add(session, `${statusText(session)}`);
    } else if (ATTENTION_STATUSES.has(session.status) && before !== session.status) {
      this.add(session, statusText(session));
    }
  }

  /** The user opened this session: its entries are dealt with. */
  seen(sessionId: string): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((entry) => entry.sessionId !== sessionId);
    if (this.entries.length !== before) this.render();
  }

  get unread(): number {
    return this.entries.filter((entry) => !entry.read).length;
  }

  private add(session: SessionInfo, text: string): void {
    const title = sessionTitle(session, session.id);
    this.entries.unshift({
      id: this.nextId++,
      sessionId: session.id,
      title,
      text,
      at: new Date(),
      read: false,
    });
    this.entries = this.entries.slice(0, 100);
    this.render();
    if ('Notification' in window && Notification.permission === 'granted') {
      const notification = new Notification(`${title}: ${text}`, {
        tag: `tower-${session.id}`,
        body: session.cwd,
      });
      notification.onclick = () => {
        window.focus();
        this.onOpen(session.id);
        notification.close();
      };
    }
  }

  private toggle(): void {
    this.panel.hidden = !this.panel.hidden;
    if (!this.panel.hidden) {
      for (const entry of this.entries) entry.read = true;
      this.render();
    }
  }

  private clear(): void {
    this.entries = [];
    this.render();
  }

  private async askPermission(): Promise<void> {
    if ('Notification' in window) await Notification.requestPermission();
    this.render();
  }

  private render(): void {
    const unread = this.unread;
    this.count.hidden = unread === 0;
    this.count.textContent = String(unread);
    document.title = unread === 0 ? BASE_TITLE : `(${unread}) ${BASE_TITLE}`;
    this.permission.hidden = !('Notification' in window) || Notification.permission !== 'default';
    this.list.replaceChildren(
      ...(this.entries.length === 0 ? [h('li.empty', null, 'Nothing needs you.')] : []),
      ...this.entries.map((entry) =>
        h(
          `li.inbox-entry${entry.read ? '' : '.unread'}`,
          {
            dataset: { sessionId: entry.sessionId },
            onclick: () => {
              this.panel.hidden = true;
              this.onOpen(entry.sessionId);
            },
          },
          h('span.inbox-title', null, entry.title),
          h('span.inbox-text', null, entry.text),
          h('time', { datetime: entry.at.toISOString() }, entry.at.toLocaleTimeString()),
        ),
      ),
    );
  }
}
