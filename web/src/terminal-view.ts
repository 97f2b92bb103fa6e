/**
 * One terminal on screen: xterm.js 6 and its WebSocket.
 *
 * Output is written as it comes and ACKed from xterm's write callback (its flow-control guidance);
 * a snapshot resets the terminal and paints the screen. Input goes out numbered (see
 * terminal-connection.ts), never the terminal's own replies to queries (see query-replies.ts).
 *
 * Size: the session has one size owner among all the windows watching it, the one that typed last
 * (or took the size with the size marker). The owner fits the session to its pane and follows the
 * pane's size. Every other view shows the owner's whole screen: scaled down to fit its pane when
 * the session is larger, at its natural size when smaller (terminal-fit.ts); never a crop.
 */
import type { FitAddon } from '@xterm/addon-fit';
import type { SearchAddon } from '@xterm/addon-search';
import type { Terminal } from '@xterm/xterm';
import { MAX_COLS, MAX_ROWS } from '../../src/protocol/limits.js';
import { h } from './dom.js';
import { QueryReplies } from './query-replies.js';
import { SearchBox } from './search-box.js';
import { type ConnectionState, TerminalConnection } from './terminal-connection.js';
import { showNaturalSize, showWholeScreen } from './terminal-fit.js';
import { TerminalHistory } from './terminal-history.js';
import { createTerminal, loadAddons, shortcutKeys } from './terminal-setup.js';
import type { Role, WsServerMessage } from './types.js';

type Msg<T extends WsServerMessage['type']> = Extract<WsServerMessage, { type: T }>;

export interface TerminalViewOptions {
  /** The role from the last login; the server's hello has the final word. */
  role: Role | null;
  /** Phone-sized screen: a smaller font; the composer is the main input. */
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
  private readonly history: TerminalHistory;
  private readonly resizeObserver: ResizeObserver;
  private role: Role | null;
  private owner = false;
  private exited = false;
  private fitQueued = false;
  /** The font size from the settings; a view that does not own the size may show a smaller one. */
  private readonly fontSize: number;
  /** How much smaller than natural the session's screen is shown here (1: natural). */
  private scale = 1;

  constructor(
    readonly sessionId: string,
    private readonly options: TerminalViewOptions,
  ) {
    this.role = options.role;
    const parts = createTerminal({ narrow: options.narrow(), viewer: this.role === 'viewer' });
    this.term = parts.term;
    this.fit = parts.fit;
    this.search = parts.search;
    this.fontSize = this.term.options.fontSize ?? 13;
    this.queries = new QueryReplies(this.term);
    this.host = h('div.terminal-host');
    this.overlay = h('div.terminal-overlay', { hidden: true });
    this.banner = h('div.terminal-banner', { hidden: true });
    this.badges = h('span.pane-badges');
    this.searchBox = new SearchBox(this.search, this.term, () => this.history.load(true));
    this.element = h('div.terminal-view', null, this.host, this.searchBox.element, this.overlay, this.banner);
    // For tests and the devtools console (the WebGL renderer leaves no text in the DOM).
    Object.defineProperty(this.element, 'terminalText', { value: () => this.text() });
    Object.defineProperty(this.element, 'terminal', { value: this.term });
    this.resizeObserver = new ResizeObserver(() => this.scheduleFit());
    this.connection = new TerminalConnection(sessionId, {
      hello: (message) => this.onHello(message),
      snapshot: (message) => this.onSnapshot(message),
      output: (bytes, end) => {
        if (!this.history.holds(bytes, end)) this.term.write(bytes, () => this.connection.ack(end));
      },
      size: (message) => this.onSize(message),
      exit: (message) => this.onExit(message),
      error: (message) => this.showBanner(`${message.error}: ${message.message}`, 'error'),
      state: (state, detail) => this.onState(state, detail),
    });
    this.history = new TerminalHistory({
      sessionId,
      term: this.term,
      requestScreenOnly: () => this.connection.requestSnapshot(true),
      requestSnapshot: () => this.connection.requestSnapshot(),
      sizeTo: (cols, rows) => this.sizeTo(cols, rows),
      ack: (offset) => this.connection.ack(offset),
      rebuilt: (added, previousTop) => {
        if (previousTop !== null) this.term.scrollToLine(previousTop + added);
        this.searchBox.refresh();
      },
    });
    this.renderBadges();
  }

  /** Call once the element is in the document (xterm measures its font there). */
  mount(): void {
    this.term.open(this.host);
    const parts = { term: this.term, fit: this.fit, search: this.search };
    this.element.dataset.renderer = loadAddons(parts, () => {
      this.element.dataset.renderer = 'dom';
    });
    this.term.attachCustomKeyEventHandler(shortcutKeys(this.term, () => this.searchBox.open()));
    this.term.onData((data) => this.onData(data));
    // Scrolled to the top of what the terminal holds: load older output if the journal has it.
    this.term.onScroll((top) => {
      if (top === 0 && this.term.buffer.active.baseY > 0) this.history.load(false);
    });
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

  /** Fit the terminal to this pane and make the session take that size. */
  private claimSize(): void {
    if (this.role === 'viewer' || this.exited) return;
    // Measure at the natural font: a view that did not own the size may show a smaller one.
    showNaturalSize(this.term, this.fontSize);
    const dims = this.proposed();
    const same = dims !== null && dims.cols === this.term.cols && dims.rows === this.term.rows;
    if (dims && !(this.owner && same)) {
      if (!same) this.term.resize(dims.cols, dims.rows);
      this.connection.resize(dims.cols, dims.rows);
    }
    // Until the server confirms the claim, this view still shows the whole screen.
    this.showScreen();
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
      else this.showScreen();
    });
  }

  /** Take the session's size (another window's layout) and show its whole screen in this pane. */
  private sizeTo(cols: number, rows: number): void {
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
    this.showScreen();
  }

  private showScreen(): void {
    if (this.owner) {
      showNaturalSize(this.term, this.fontSize);
      this.scale = 1;
    } else {
      this.scale = showWholeScreen(this.term, this.fontSize);
    }
    this.renderBadges();
  }

  private onHello(message: Msg<'hello'>): void {
    this.role = message.role;
    this.options.onRole(message.role);
    this.term.options.disableStdin = message.role === 'viewer';
    this.element.classList.toggle('view-only', message.role === 'viewer');
    this.owner = false;
    this.history.reset(message.session.first_offset);
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
    if (message.screen_only) {
      this.history.screenOnly(message);
      return;
    }
    this.history.wholeSnapshot();
    // In-band reset (RIS): ordered after anything still queued for the old screen.
    this.term.write('\x1bc');
    this.sizeTo(message.cols, message.rows);
    this.term.write(message.data, () => this.connection.ack(message.offset));
    this.renderBadges();
  }

  private onSize(message: Msg<'size'>): void {
    this.owner = message.owner;
    this.sizeTo(message.cols, message.rows);
    // Owner by typing: now take this pane's size too.
    if (message.owner) this.claimSize();
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
      const scaled = this.scale < 0.995 ? ` at ${Math.round(this.scale * 100)}%` : '';
      badges.push(
        h(
          'button.marker.size-marker',
          {
            type: 'button',
            title: 'laid out for another window; click (or type) to fit the session to this one',
            onclick: () => this.claimSize(),
          },
          `${this.term.cols}×${this.term.rows}${scaled}`,
        ),
      );
    }
    this.badges.replaceChildren(...badges);
  }
}
