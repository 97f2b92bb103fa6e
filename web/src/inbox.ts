/**
 * The attention inbox: sessions that want the user. An agent needs input (an approval, a question)
 * or finished its turn (attention events from /api/events, with a one-line excerpt), a session
 * exited, or was lost when the daemon stopped. Each adds an entry, a browser notification when
 * allowed, and a count in the document title. Events from before the page connected (replayed) add an
 * entry only while they still stand, and notify nobody. Opening the inbox marks everything read;
 * opening a session clears its entries.
 */
import { h, icon } from './dom.js';
import { sessionTitle, statusText } from './status-badge.js';
import type { AttentionEvent, SessionInfo } from './types.js';

/** Errors reach the page as session exits, or as prompt states in the composer. */
type Kind = Exclude<AttentionEvent['kind'], 'error'>;

interface Entry {
  id: number;
  sessionId: string;
  kind: Kind;
  title: string;
  text: string;
  at: Date;
  read: boolean;
}

const KIND_TEXT: Record<Kind, string> = {
  needs_input: 'needs input',
  turn_finished: 'finished its turn',
  exited: 'exited',
  lost: 'was lost',
};
const BASE_TITLE = 'Tower';
/** Attention event ids already taken in, so a replay after a reconnect adds nothing twice. */
const SEEN_KEPT = 500;

export class Inbox {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;
  private readonly count: HTMLElement;
  private readonly list: HTMLElement;
  private readonly permission: HTMLButtonElement;
  private entries: Entry[] = [];
  private nextId = 1;
  private readonly seenEvents: string[] = [];

  constructor(
    private readonly onOpen: (sessionId: string) => void,
    /** The user is looking at this session right now (shown, and the window has focus). */
    private readonly watching: (sessionId: string) => boolean = () => false,
  ) {
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

  /** A session changed (from the event stream): an exit wants attention. */
  sessionChanged(event: string, session: SessionInfo): void {
    if (event === 'exited')
      this.add(session.id, 'exited', sessionTitle(session, session.id), statusText(session), session.cwd);
  }

  /**
   * An attention event. Needs input always counts; a finished turn counts for agents, not for a
   * plain shell's every command, and not while the user is watching that session. Exits and
   * errors arrive as session events (above), once.
   */
  attention(event: AttentionEvent, session: SessionInfo | undefined, replayed = false): void {
    if (this.seenEvents.includes(event.id)) return;
    this.seenEvents.push(event.id);
    if (this.seenEvents.length > SEEN_KEPT) this.seenEvents.shift();
    const { kind } = event;
    if (kind !== 'needs_input' && kind !== 'turn_finished' && kind !== 'lost') return;
    if (kind === 'turn_finished') {
      if (replayed || event.runtime === null || event.runtime === 'shell') return;
      if (this.watching(event.session_id)) return;
    }
    // From before the page connected: only what still wants the user.
    if (replayed && (session === undefined || (kind === 'needs_input' && session.agent.state !== kind)))
      return;
    const title = session?.name || event.name || event.session_id;
    const text = event.excerpt.trim() || KIND_TEXT[kind];
    this.add(event.session_id, kind, title, text, session?.cwd ?? '', {
      at: new Date(event.at),
      notify: !replayed,
    });
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

  private add(
    sessionId: string,
    kind: Kind,
    title: string,
    text: string,
    cwd: string,
    { at = new Date(), notify = true } = {},
  ): void {
    // A newer entry of the same kind for the session replaces the old one.
    this.entries = this.entries.filter((entry) => entry.sessionId !== sessionId || entry.kind !== kind);
    this.entries.unshift({ id: this.nextId++, sessionId, kind, title, text, at, read: false });
    this.entries = this.entries.slice(0, 100);
    this.render();
    if (notify && 'Notification' in window && Notification.permission === 'granted') {
      try {
        const notification = new Notification(`${title} ${KIND_TEXT[kind]}`, {
          tag: `tower-${sessionId}`,
          body: text === KIND_TEXT[kind] ? cwd : text,
        });
        notification.onclick = () => {
          window.focus();
          this.onOpen(sessionId);
          notification.close();
        };
      } catch {
        // Some browsers allow notifications only from a service worker: the inbox still has it.
      }
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
            dataset: { sessionId: entry.sessionId, kind: entry.kind },
            onclick: () => {
              this.panel.hidden = true;
              this.onOpen(entry.sessionId);
            },
          },
          h('span.inbox-title', null, `${entry.title} `, h('span.inbox-kind', null, KIND_TEXT[entry.kind])),
          h('span.inbox-text', { title: entry.text }, entry.text),
          h('time', { datetime: entry.at.toISOString() }, entry.at.toLocaleTimeString()),
        ),
      ),
    );
  }
}
