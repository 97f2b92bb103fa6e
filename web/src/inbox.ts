/**
 * The attention inbox: sessions that want the user. An agent needs input (an approval, a question)
 * or finished its turn, or a session exited by itself or was lost when the daemon stopped (attention
 * events from /api/events, with a one-line excerpt; a session ended through Tower raises none). Each
 * adds an entry, a browser notification when allowed, and a count in the document title. Events from
 * before the page connected (replayed) add an entry only while they still stand, and notify nobody. An
 * entry goes when its condition does: the agent no longer asks (answered anywhere), or was given more
 * work after its turn, or the session was removed. Opening the inbox marks everything read; opening a
 * session clears its entries; Escape closes it. An agent that asks gets Approve and Deny when its
 * runtime has answer keys.
 */
import { answerButtons } from './answer-buttons.js';
import { h, icon } from './dom.js';
import type { KeyInput } from './keys.js';
import { sessionState } from './status-badge.js';
import type { Store } from './store.js';
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
const MAX_ENTRIES = 100;
/** Attention event ids already taken in, so a replay after a reconnect adds nothing twice. */
const SEEN_KEPT = 500;

/** Whether an entry of this kind still stands for a session in this state. */
function stillStands(kind: Kind, session: SessionInfo): boolean {
  const state = sessionState(session);
  if (kind === 'needs_input') return state === 'needs_input';
  if (kind === 'turn_finished') return state !== 'busy' && state !== 'needs_input';
  return true;
}

export interface InboxOptions {
  open(sessionId: string): void;
  /** The user is looking at this session right now (shown, and the window has focus). */
  watching(sessionId: string): boolean;
}

export class Inbox {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;
  private readonly count: HTMLElement;
  private readonly list: HTMLElement;
  private readonly permission: HTMLButtonElement;
  private entries: Entry[] = [];
  private nextId = 1;
  private readonly seenEvents: string[] = [];
  /** What the list was last drawn from: redraw only when it changes (a redraw can eat a click). */
  private drawn = '';

  constructor(
    private readonly store: Store,
    private readonly input: KeyInput,
    private readonly options: InboxOptions,
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
    // Captured, so a focused terminal does not take the Escape that closes the inbox.
    document.addEventListener(
      'keydown',
      (event) => {
        if (event.key !== 'Escape' || this.panel.hidden) return;
        event.preventDefault();
        event.stopPropagation();
        this.panel.hidden = true;
        this.button.focus();
      },
      true,
    );
    store.subscribe((change) => {
      if (change === 'sessions' || change === 'runtimes' || change === 'role') this.prune();
    });
    this.render();
  }

  /**
   * An attention event. Needs input always counts while the agent still asks; a finished turn counts
   * for agents, not for a plain shell's every command, and not while the user is watching that
   * session. Errors are left out: a failed exit also comes as `exited`.
   */
  attention(event: AttentionEvent, replayed = false): void {
    if (this.seenEvents.includes(event.id)) return;
    this.seenEvents.push(event.id);
    if (this.seenEvents.length > SEEN_KEPT) this.seenEvents.shift();
    const { kind } = event;
    if (kind === 'error') return;
    const session = this.store.sessions.get(event.session_id);
    if (kind === 'turn_finished') {
      if (replayed || event.runtime === null || event.runtime === 'shell') return;
      if (this.options.watching(event.session_id)) return;
    }
    // An exit from before the page connected is old news; a lost session is not.
    if (replayed && kind === 'exited') return;
    // The condition may be gone already: the excerpt took a moment, or the event is from before the
    // page connected.
    if (session ? !stillStands(kind, session) : replayed) return;
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

  /** Drop the entries whose condition has cleared; redraw for the answer keys and role. */
  private prune(): void {
    this.entries = this.entries.filter((entry) => {
      const session = this.store.sessions.get(entry.sessionId);
      return session !== undefined && stillStands(entry.kind, session);
    });
    this.render();
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
    this.entries = this.entries.slice(0, MAX_ENTRIES);
    this.render();
    if (notify && 'Notification' in window && Notification.permission === 'granted') {
      try {
        const notification = new Notification(`${title} ${KIND_TEXT[kind]}`, {
          tag: `tower-${sessionId}`,
          body: text === KIND_TEXT[kind] ? cwd : text,
        });
        notification.onclick = () => {
          window.focus();
          this.options.open(sessionId);
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
    const key = JSON.stringify(this.entries.map((entry) => [entry.id, entry.read, this.keys(entry)]));
    if (key === this.drawn) return;
    this.drawn = key;
    this.list.replaceChildren(
      ...(this.entries.length === 0 ? [h('li.empty', null, 'Nothing needs you.')] : []),
      ...this.entries.map((entry) => this.item(entry)),
    );
  }

  /** The keys that answer an entry's question, if it is one and this page may type. */
  private keys(entry: Entry) {
    return entry.kind === 'needs_input' && this.store.canControl ? this.store.answers(entry.sessionId) : null;
  }

  private item(entry: Entry): HTMLElement {
    const keys = this.keys(entry);
    return h(
      `li.inbox-entry${entry.read ? '' : '.unread'}`,
      {
        dataset: { sessionId: entry.sessionId, kind: entry.kind },
        onclick: () => {
          this.panel.hidden = true;
          this.options.open(entry.sessionId);
        },
      },
      h('span.inbox-title', null, `${entry.title} `, h('span.inbox-kind', null, KIND_TEXT[entry.kind])),
      h('span.inbox-text', { title: entry.text }, entry.text),
      h('time', { datetime: entry.at.toISOString() }, entry.at.toLocaleTimeString()),
      keys ? answerButtons(entry.sessionId, keys, this.input) : null,
    );
  }
}
