/**
 * What `tower attach` shows. While the session fits this terminal, its bytes pass straight through.
 * When another client has made it larger (the size follows the client that typed last), passing bytes
 * on would show a crop of a wider layout; instead a local emulator (headless xterm) is fed with the
 * session's screen and output, and the part of its screen that holds the cursor is drawn, with a
 * status line saying so. Which of the two is decided at each snapshot: a switch needs a fresh one.
 */
import type { Terminal as HeadlessTerminal, IBufferCell, IBufferLine } from '@xterm/headless';
import xtermHeadless from '@xterm/headless';
import { escapeControls } from './escape.js';
import { cellWidth, truncateCells } from './table.js';

const { Terminal } = xtermHeadless;

export interface Size {
  cols: number;
  rows: number;
}

export interface Snapshot extends Size {
  data: string;
}

/**
 * Turn off what a full-screen program may have turned on in the local terminal. Leaving the alternate
 * screen restores the cursor saved on entering it; saving it first (DECSC, kept per screen) makes that
 * a no-op when the program never entered it, so the message after this lands below the screen.
 */
export const RESTORE_TERMINAL =
  '\x1b7\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b>\x1b[?25h\x1b[0m\r\n';
/** Push the window title, set ours (xterm's title stack: CSI 22 t / CSI 23 t). */
export const titleWhileAway = (text: string) => `\x1b[22;0t\x1b]2;${text}\x07`;
export const TITLE_RESTORE = '\x1b[23;0t';

/** The end of an attach: cooked mode, the listeners off, the view closed, its last line printed. */
export function releaseTerminal(
  view: SessionView,
  listeners: { keys: (chunk: Buffer) => void; resize: () => void },
  titlePushed: boolean,
  message: string,
): void {
  const { stdin, stdout } = process;
  if (stdin.isTTY) stdin.setRawMode(false);
  stdin.off('data', listeners.keys);
  stdin.pause();
  stdout.off('resize', listeners.resize);
  view.close();
  const title = titlePushed ? TITLE_RESTORE : '';
  stdout.write(`${title}${stdout.isTTY ? RESTORE_TERMINAL : ''}${escapeControls(message)}\r\n`);
}

const MOUSE_OFF = '\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l';

export class SessionView {
  /** The session's size, as last reported. */
  private session: Size = { cols: 0, rows: 0 };
  private emulator: HeadlessTerminal | null = null;
  private cursorVisible = true;
  private scroll = { x: 0, y: 0 };
  private renderScheduled = false;
  private inputModes = '';

  constructor(
    private readonly out: NodeJS.WriteStream,
    /** What the status line says about taking the size back and detaching. */
    private readonly hint: string,
  ) {}

  get fitted(): boolean {
    return this.emulator !== null;
  }

  private local(): Size {
    return { cols: this.out.columns || 80, rows: this.out.rows || 24 };
  }

  /** Whether the session, at its current size, needs the fitted view on this terminal. */
  private needsFit(): boolean {
    const local = this.local();
    return this.session.cols > local.cols || this.session.rows > local.rows;
  }

  /** Paint a snapshot: raw when the session fits, else into the emulator and drawn fitted. */
  paint(snapshot: Snapshot): void {
    this.session = { cols: snapshot.cols, rows: snapshot.rows };
    if (!this.needsFit()) {
      this.dropEmulator();
      this.out.write(`\x1bc${snapshot.data}`);
      return;
    }
    if (!this.emulator) this.out.write(`\x1b[0m${MOUSE_OFF}\x1b[2J`);
    this.dropEmulator();
    this.emulator = this.createEmulator(snapshot);
    this.emulator.write(snapshot.data, () => this.scheduleRender());
  }

  output(data: Buffer): void {
    if (this.emulator) this.emulator.write(data, () => this.scheduleRender());
    else this.out.write(data);
  }

  /**
   * The session or this terminal changed size. Returns true when the view must switch between
   * passing bytes and fitting (the caller then asks for a fresh snapshot and paints it).
   */
  resized(session?: Size): boolean {
    if (session) this.session = { ...session };
    if (this.needsFit() !== this.fitted) return true;
    if (this.emulator) {
      this.emulator.resize(this.session.cols, this.session.rows);
      this.scheduleRender();
    }
    return false;
  }

  close(): void {
    this.dropEmulator();
  }

  private createEmulator(size: Size): HeadlessTerminal {
    const emulator = new Terminal({
      cols: size.cols,
      rows: size.rows,
      scrollback: 0,
      allowProposedApi: true,
    });
    this.cursorVisible = true;
    // DECTCEM is not in the public modes: watch it go by, and let xterm handle it as usual.
    const watchCursor = (visible: boolean) => (params: (number | number[])[]) => {
      if (params.includes(25)) this.cursorVisible = visible;
      return false;
    };
    emulator.parser.registerCsiHandler({ prefix: '?', final: 'h' }, watchCursor(true));
    emulator.parser.registerCsiHandler({ prefix: '?', final: 'l' }, watchCursor(false));
    return emulator;
  }

  private dropEmulator(): void {
    this.emulator?.dispose();
    this.emulator = null;
    this.inputModes = '';
  }

  private scheduleRender(): void {
    if (this.renderScheduled) return;
    this.renderScheduled = true;
    setImmediate(() => {
      this.renderScheduled = false;
      if (this.emulator) this.render(this.emulator);
    });
  }

  /** Draw the part of the emulator's screen around its cursor, and the status line below it. */
  private render(emulator: HeadlessTerminal): void {
    const local = this.local();
    const view = { cols: local.cols, rows: Math.max(1, local.rows - 1) };
    const buffer = emulator.buffer.active;
    const cursor = { x: Math.min(buffer.cursorX, emulator.cols - 1), y: buffer.cursorY };
    this.scroll.x = follow(this.scroll.x, cursor.x, view.cols, emulator.cols);
    this.scroll.y = follow(this.scroll.y, cursor.y, view.rows, emulator.rows);
    let frame = `\x1b[?25l${this.syncInputModes(emulator)}`;
    const cell = buffer.getNullCell();
    for (let row = 0; row < view.rows; row++) {
      frame += `\x1b[${row + 1};1H\x1b[0m`;
      const line = buffer.getLine(buffer.baseY + this.scroll.y + row);
      if (line && this.scroll.y + row < emulator.rows)
        frame += drawCells(line, cell, this.scroll.x, view.cols);
      frame += '\x1b[0m\x1b[K';
    }
    frame += `\x1b[${local.rows};1H\x1b[0;7m${this.statusLine(emulator, view)}\x1b[0m`;
    const at = { x: cursor.x - this.scroll.x, y: cursor.y - this.scroll.y };
    if (at.x >= 0 && at.x < view.cols && at.y >= 0 && at.y < view.rows) {
      frame += `\x1b[${at.y + 1};${at.x + 1}H${this.cursorVisible ? '\x1b[?25h' : ''}`;
    }
    this.out.write(frame);
  }

  private statusLine(emulator: HeadlessTerminal, view: Size): string {
    const last = (start: number, count: number, total: number) => Math.min(start + count, total);
    const text =
      ` session ${emulator.cols}×${emulator.rows} (${this.hint}) · ` +
      `columns ${this.scroll.x + 1}–${last(this.scroll.x, view.cols, emulator.cols)}, ` +
      `rows ${this.scroll.y + 1}–${last(this.scroll.y, view.rows, emulator.rows)} `;
    const fitted = truncateCells(text, view.cols);
    return fitted + ' '.repeat(Math.max(0, view.cols - cellWidth(fitted)));
  }

  /** Keys are sent as the program asked (cursor keys, keypad, bracketed paste); no mouse in this view. */
  private syncInputModes(emulator: HeadlessTerminal): string {
    const modes = emulator.modes;
    const wanted =
      (modes.applicationCursorKeysMode ? '\x1b[?1h' : '\x1b[?1l') +
      (modes.applicationKeypadMode ? '\x1b=' : '\x1b>') +
      (modes.bracketedPasteMode ? '\x1b[?2004h' : '\x1b[?2004l');
    if (wanted === this.inputModes) return '';
    this.inputModes = wanted;
    return wanted;
  }
}

/** Move a window of `size` over `total` as little as possible to keep `position` inside it. */
function follow(start: number, position: number, size: number, total: number): number {
  let next = start;
  if (position < next) next = position;
  if (position >= next + size) next = position - size + 1;
  return Math.max(0, Math.min(next, total - size));
}

/** One row of cells from column `from`, `count` wide, with their colours and attributes. */
function drawCells(line: IBufferLine, cell: IBufferCell, from: number, count: number): string {
  let out = '';
  let attributes = '\x1b[0m';
  for (let x = from; x < from + count; x++) {
    line.getCell(x, cell);
    const width = cell.getWidth();
    let chars = cell.getChars() || ' ';
    // Half of a wide character at either edge of the view cannot be drawn: a blank stands in.
    if (width === 0) {
      if (x !== from) continue;
      chars = ' ';
    } else if (width === 2 && x === from + count - 1) {
      chars = ' ';
    }
    const wanted = sgr(cell);
    if (wanted !== attributes) {
      out += wanted;
      attributes = wanted;
    }
    out += chars;
  }
  return out;
}

function sgr(cell: IBufferCell): string {
  const codes = ['0'];
  if (cell.isBold()) codes.push('1');
  if (cell.isDim()) codes.push('2');
  if (cell.isItalic()) codes.push('3');
  if (cell.isUnderline()) codes.push('4');
  if (cell.isBlink()) codes.push('5');
  if (cell.isInverse()) codes.push('7');
  if (cell.isInvisible()) codes.push('8');
  if (cell.isStrikethrough()) codes.push('9');
  if (cell.isOverline()) codes.push('53');
  if (cell.isFgRGB()) codes.push(`38;2;${rgb(cell.getFgColor())}`);
  else if (cell.isFgPalette()) codes.push(palette(cell.getFgColor(), 30, 90, 38));
  if (cell.isBgRGB()) codes.push(`48;2;${rgb(cell.getBgColor())}`);
  else if (cell.isBgPalette()) codes.push(palette(cell.getBgColor(), 40, 100, 48));
  return `\x1b[${codes.join(';')}m`;
}

function rgb(color: number): string {
  return `${(color >> 16) & 0xff};${(color >> 8) & 0xff};${color & 0xff}`;
}

function palette(color: number, base: number, bright: number, extended: number): string {
  if (color < 8) return String(base + color);
  if (color < 16) return String(bright + color - 8);
  return `${extended};5;${color}`;
}
