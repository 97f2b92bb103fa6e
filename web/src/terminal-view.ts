/**
 * One terminal on screen: xterm.js 6 and its WebSocket.
 *
 * Output is written as it comes and ACKed from xterm's write callback (its flow-control guidance);
 * a snapshot resets the terminal and paints the screen. Input goes out numbered (see
 * terminal-connection.ts), never the terminal's own replies to queries (see query-replies.ts).
 *
 * Size: the session has one size owner among all the windows watching it. This view claims the
 * size (fits the terminal to its pane and sends `resize`) when the user clicks into it or types;
 * while it owns the size it follows its pane's size. A view that does not own it shows the
 * terminal at the owner's size.
 */
import type { FitAddon } from '@xterm/addon-fit';
import type { SearchAddon } from '@xterm/addon-search';
import type { Terminal } from '@xterm/xterm';
import { MAX_COLS, MAX_ROWS } from '../../src/protocol/limits.js';
import { h } from './dom.js';
import { QueryReplies } from './query-replies.js';
import { SearchBox } from './search-box.js';
import { type ConnectionState, TerminalConnection } from './terminal-connection.js';
import { createTerminal, loadAddons, shortcutKeys } from './terminal-setup.js';
import type { Role, WsServerMessage } from './types.js';

type Msg<T extends WsServerMessage['type']> = Extract<WsServerMessage, { type: T }>;

export interface TerminalViewOptions {
  /** The role from the last login; the server's hello has the final word. */
  role: Role | null;
  /** Phone-sized screen: the composer is the main input, clicks do not take the size. */
  narrow: () => boolean;
  onRole(role: Role): void;
  /** The connection keeps failing: the workspace checks whether the login is still good. */
  onTrouble(): void;
}

export class TerminalView {
  readonly element: HTMLElement;
  /** Markers for the pane header: "view only", the size owner. */
  readonly badges: HTMLElement;
  readonly term: Terminal;
  private readonly host: HTMLElement;
  private readonly overlay: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly fit: FitAddon;
  private readonly search: SearchAddon;
  private readonly searchBox: SearchBox;
  private readonly queries: QueryReplies;
  private readonly connection: TerminalConnection;
  private readonly resizeObserver: ResizeObserver;
  private role: Role | null;
  private owner = false;
  private exited = false;
  private fitQueued = false;

  constructor(
    readonly sessionId: string,
    private readonly options: TerminalViewOptions,
  ) {
    this.role = options.role;
    const parts = createTerminal({ narrow: options.narrow(), viewer: this.role === 'viewer' });
    this.term = parts.term;
    this.fit = parts.fit;
    this.search = parts.search;
    this.queries = new QueryReplies(this.term);
    this.host = h('div.terminal-host');
    this.overlay = h('div.terminal-overlay', { hidden: true });
    this.banner = h('div.terminal-banner', { hidden: true });
    this.badges = h('span.pane-badges');
    this.searchBox = new SearchBox(this.search, this.term);
    this.element = h(
      'div.terminal-view',
      { onmousedown: () => this.clicked() },
      this.host,
      this.searchBox.element,
      this.overlay,
      this.banner,
    );
    // For tests and the devtools console (the WebGL renderer leaves no text in the DOM).
    Object.defineProperty(this.element, 'terminalText', { value: () => this.text() });
    Object.defineProperty(this.element, 'terminal', { value: this.term });
    this.resizeObserver = new ResizeObserver(() => this.scheduleFit());
    this.connection = new TerminalConnection(sessionId, {
      hello: (message) => this.onHello(message),
      snapshot: (message) => this.onSnapshot(message),
      output: (bytes, end) => this.term.write(bytes, () => this.connection.ack(end)),
      size: (message) => this.onSize(message),
      exit: (message) => this.onExit(message),
      error: (message) => this.showBanner(`${message.error}: ${message.message}`, 'error'),
      state: (state, detail) => this.onState(state, detail),
    });
    this.renderBadges();
  }

  /** Call once the element is in the document (xterm measures its font there). */
  mount(): void {
    this.term.open(this.host);
    this.element.dataset.renderer = loadAddons({ term: this.term, fit: this.fit, search: this.search });
    this.term.attachCustomKeyEventHandler(shortcutKeys(this.term, () => this.searchBox.open()));
    this.term.onData((data) => this.onData(data));
    this.resizeObserver.observe(this.element);
    this.connection.connect();
  }

  focus(): void {
    this.term.focus();
  }

  /** The buffer (scrollback and screen) as text, trailing blanks trimmed. */
  text(): string {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? '');
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    this.connection.dispose();
    this.queries.dispose();
    this.term.dispose();
    this.element.remove();
  }

  private onData(data: string): void {
    if (this.queries.isReply(data)) return;
    if (this.role === 'viewer' || this.exited) return;
    this.connection.input(data);
    // Typing makes this window the size owner (the server says so with `size`; see onSize).
  }

  private clicked(): void {
    if (this.options.narrow()) return;
    this.claimSize();
  }

  /** Fit the terminal to this pane and make the session take that size. */
  private claimSize(): void {
    if (this.role === 'viewer' || this.exited) return;
    const dims = this.proposed();
    if (!dims) return;
    if (this.owner && dims.cols === this.term.cols && dims.rows === this.term.rows) return;
    if (dims.cols !== this.term.cols || dims.rows !== this.term.rows) this.term.resize(dims.cols, dims.rows);
    this.connection.resize(dims.cols, dims.rows);
  }

  private proposed(): { cols: number; rows: number } | null {
    if (this.element.clientWidth === 0 || this.element.clientHeight === 0) return null;
    const dims = this.fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return null;
    return {
      cols: Math.max(2, Math.min(MAX_COLS, dims.cols)),
      rows: Math.max(1, Math.min(MAX_ROWS, dims.rows)),
    };
  }

  private scheduleFit(): void {
    if (this.fitQueued) return;
    this.fitQueued = true;
    requestAnimationFrame(() => {
      this.fitQueued = false;
      if (this.owner) this.claimSize();
    });
  }

  private sizeTo(cols: number, rows: number): void {
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
  }

  private onHello(message: Msg<'hello'>): void {
    this.role = message.role;
    this.options.onRole(message.role);
    this.term.options.disableStdin = message.role === 'viewer';
    this.element.classList.toggle('view-only', message.role === 'viewer');
    this.owner = false;
    this.sizeTo(message.session.cols, message.session.rows);
    const session = message.session;
    if (session.status === 'running') this.banner.hidden = true;
    else {
      this.exited = true;
      const how =
        session.status === 'lost'
          ? 'lost: the daemon stopped while it ran'
          : session.exit_signal !== null
            ? `exited, signal ${session.exit_signal}`
            : `exited, code ${session.exit_code ?? '?'}`;
      this.showBanner(`The program ended (${how}).`, 'exit');
    }
    this.renderBadges();
  }

  private onSnapshot(message: Msg<'snapshot'>): void {
    // In-band reset (RIS): ordered after anything still queued for the old screen.
    this.term.write('\x1bc');
    this.sizeTo(message.cols, message.rows);
    this.term.write(message.data, () => this.connection.ack(message.offset));
    this.renderBadges();
  }

  private onSize(message: Msg<'size'>): void {
    this.owner = message.owner;
    if (message.owner) {
      this.sizeTo(message.cols, message.rows);
      // Owner by typing: now take this pane's size too.
      this.claimSize();
    } else {
      this.sizeTo(message.cols, message.rows);
    }
    this.renderBadges();
  }

  private onExit(message: Msg<'exit'>): void {
    this.exited = true;
    const how = message.signal !== null ? `signal ${message.signal}` : `code ${message.exit_code ?? '?'}`;
    this.showBanner(`The program exited (${how}).`, 'exit');
    this.renderBadges();
  }

  private onState(state: ConnectionState, detail?: string): void {
    if (state === 'open') this.overlay.hidden = true;
    if (state === 'open' || state === 'connecting') return;
    this.overlay.hidden = false;
    this.overlay.replaceChildren(
      h('div.overlay-title', null, state === 'reconnecting' ? 'reconnecting…' : 'disconnected'),
      h('div.overlay-detail', null, detail ?? ''),
    );
    this.overlay.dataset.state = state;
    if (state === 'reconnecting' && this.connection.failures >= 3) this.options.onTrouble();
  }

  private showBanner(text: string, kind: 'exit' | 'error'): void {
    this.banner.hidden = false;
    this.banner.dataset.kind = kind;
    this.banner.textContent = text;
  }

  private renderBadges(): void {
    const badges: HTMLElement[] = [];
    if (this.role === 'viewer')
      badges.push(h('span.marker.view-only-marker', { title: 'viewer token' }, 'view only'));
    if (!this.owner && this.role !== 'viewer' && !this.exited) {
      badges.push(
        h(
          'span.marker.size-marker',
          { title: 'click into the terminal to fit it to this window' },
          `${this.term.cols}×${this.term.rows}`,
        ),
      );
    }
    this.badges.replaceChildren(...badges);
  }
}
