/**
 * Worker thread that owns one headless xterm per session, so the daemon's main thread
 * never parses terminal output. Speaks the batched protocol defined in screen.ts.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { SerializeAddon } from '@xterm/addon-serialize';
import type { Terminal as HeadlessTerminal } from '@xterm/headless';
import xtermHeadless from '@xterm/headless';
import type { ScreenCommand, ScreenEvents, ScreenResult, ScreenSnapshot, ScreenText } from './screen.js';

/** xterm's internals we read because the public API does not expose them. */
interface TerminalInternals {
  _core: {
    coreService: {
      isCursorHidden: boolean;
      decPrivateModes: { cursorStyle?: 'block' | 'underline' | 'bar'; cursorBlink?: boolean };
    };
    coreMouseService: { activeEncoding: string };
    buffer: { scrollTop: number; scrollBottom: number };
  };
}

interface Session {
  readonly terminal: HeadlessTerminal;
  readonly serializer: SerializeAddon;
  readonly scrollback: number;
  /** End offset of the last write received (it may still be queued or parsing). */
  writtenOffset: number;
  /** Bytes handed to xterm and not yet parsed; xterm throws away data past 50 MB pending. */
  bytesInParser: number;
  /** terminal.write calls whose callback has not run yet. */
  writesInParser: number;
  /** Steps held back, in order, while the parser is saturated. */
  backlog: Array<() => void>;
  /** Whether terminal query replies go back to the program. */
  answering: boolean;
}

const MAX_BYTES_IN_PARSER = 1 << 20;
const PARSER_PIECE_BYTES = 256 << 10;

/**
 * Niceness of this thread (Linux keeps one per thread). The emulator must never compete with the byte
 * path for the CPU: it takes what is left and catches up after a burst (see sessions/screen-feed.ts).
 */
const SCREEN_NICE = 10;

const { Terminal } = xtermHeadless;
const port = parentPort;
if (!port) throw new Error('screen-worker must run inside a worker thread');
try {
  setPriority(SCREEN_NICE);
} catch {
  // Not permitted here: the screen then shares the CPU evenly, which is slower, not wrong.
}

const sessions = new Map<string, Session>();
let outbox: ScreenEvents = { replies: [], results: [], parsed: [] };
const parsedSinceFlush = new Map<string, number>();
let flushScheduled = false;

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flush);
}

function flush(): void {
  flushScheduled = false;
  outbox.parsed = [...parsedSinceFlush];
  parsedSinceFlush.clear();
  port?.postMessage(outbox);
  outbox = { replies: [], results: [], parsed: [] };
}

function createSession(command: Extract<ScreenCommand, { kind: 'create' }>): void {
  const previous = sessions.get(command.id);
  if (previous) disposeSession(command.id, previous);
  const terminal = new Terminal({
    cols: command.cols,
    rows: command.rows,
    scrollback: command.scrollback,
    allowProposedApi: true,
    // Programs emit malformed sequences; xterm would log each one to the daemon's stderr.
    logLevel: 'off',
  });
  const serializer = new SerializeAddon();
  terminal.loadAddon(serializer);
  const session: Session = {
    terminal,
    serializer,
    scrollback: command.scrollback,
    writtenOffset: command.startOffset,
    bytesInParser: 0,
    writesInParser: 0,
    backlog: [],
    answering: command.answerQueries,
  };
  // The daemon's emulator answers queries (DA, CPR, DSR…) because it is the one
  // terminal that exists for the whole life of the session, while clients attach and
  // detach; a program that queries with no client attached would otherwise hang.
  // Clients must therefore never answer, or the program would see two replies.
  // Screens rebuilt from a log do not answer the queries in it: they were answered long ago
  // (or the program is gone); a live one starts answering once the replay is parsed.
  terminal.onData((data) => {
    if (!session.answering || sessions.get(command.id) !== session) return;
    outbox.replies.push([command.id, data]);
    scheduleFlush();
  });
  sessions.set(command.id, session);
}

function inOrder(session: Session, step: () => void): void {
  if (session.backlog.length > 0 || session.bytesInParser > MAX_BYTES_IN_PARSER) session.backlog.push(step);
  else step();
}

function drainBacklog(session: Session): void {
  while (session.backlog.length > 0 && session.bytesInParser <= MAX_BYTES_IN_PARSER) {
    session.backlog.shift()?.();
  }
}

/** Runs `action` once the terminal has parsed everything written before it. */
function afterParsing(session: Session, action: () => void): void {
  inOrder(session, () => {
    // Skipping the empty write when idle saves xterm's setTimeout hop on every snapshot.
    if (session.writesInParser === 0) return runGuarded(action);
    session.writesInParser++;
    session.terminal.write('', () => {
      session.writesInParser--;
      runGuarded(action);
    });
  });
}

/** Keeps a failing step from breaking xterm's write loop, which would stall the session. */
function runGuarded(action: () => void): void {
  try {
    action();
  } catch (error) {
    console.error('screen-worker: step failed:', error);
  }
}

function write(session: Session, id: string, data: Uint8Array, endOffset: number): void {
  session.writtenOffset = endOffset;
  // The host joins bursts into one buffer; feed xterm in pieces so the backlog can hold the rest.
  const startOffset = endOffset - data.length;
  let start = 0;
  do {
    const piece = data.subarray(start, start + PARSER_PIECE_BYTES);
    start += piece.length;
    const pieceEnd = startOffset + start;
    inOrder(session, () => parse(session, id, piece, pieceEnd));
  } while (start < data.length);
}

function parse(session: Session, id: string, piece: Uint8Array, pieceEnd: number): void {
  session.bytesInParser += piece.length;
  session.writesInParser++;
  session.terminal.write(piece, () => {
    session.bytesInParser -= piece.length;
    session.writesInParser--;
    if (sessions.get(id) === session) {
      parsedSinceFlush.set(id, pieceEnd);
      scheduleFlush();
    }
    drainBacklog(session);
  });
}

/** Forgets the session at once; its terminal goes once the bytes already queued are parsed. */
function disposeSession(id: string, session: Session): void {
  sessions.delete(id);
  afterParsing(session, () => session.terminal.dispose());
}

/** xterm reports x === cols while a wrap is pending; callers want a cell on the screen. */
function cursorColumn(terminal: HeadlessTerminal): number {
  return Math.min(terminal.buffer.active.cursorX, terminal.cols - 1);
}

function snapshotOf(session: Session, offset: number, screenOnly = false): ScreenSnapshot {
  const { terminal } = session;
  const buffer = terminal.buffer.active;
  const scrollback = screenOnly ? 0 : session.scrollback;
  const data = session.serializer.serialize({ scrollback }) + stateSerializeOmits(session);
  return { ...geometryOf(terminal, offset), altScreen: buffer.type === 'alternate', data, screenOnly };
}

/** Size and cursor, shared by snapshots and text: exact as of `offset`. */
function geometryOf(terminal: HeadlessTerminal, offset: number) {
  return {
    offset,
    cols: terminal.cols,
    rows: terminal.rows,
    cursorX: cursorColumn(terminal),
    cursorY: terminal.buffer.active.cursorY,
  };
}

const MOUSE_ENCODING_MODES: Record<string, string> = {
  SGR: '\x1b[?1006h',
  UTF8: '\x1b[?1005h',
  URXVT: '\x1b[?1015h',
  SGR_PIXELS: '\x1b[?1016h',
};
/** DECSCUSR parameter of the blinking shape; the steady one is the next number. */
const BLINKING_CURSOR_SHAPES = { block: 1, underline: 3, bar: 5 };

/**
 * State the serialize addon leaves out. Full-screen apps (vim, less, tmux) rely on it,
 * and a client that attaches mid-session must continue exactly where the app believes
 * the terminal is: same scroll region, mouse reports it can parse, cursor as it was.
 */
function stateSerializeOmits(session: Session): string {
  const { terminal } = session;
  const core = (terminal as unknown as TerminalInternals)._core;
  const buffer = terminal.buffer.active;
  let extra = '';
  const { scrollTop, scrollBottom } = core.buffer;
  const hasScrollRegion = scrollTop !== 0 || scrollBottom !== terminal.rows - 1;
  if (hasScrollRegion) extra += `\x1b[${scrollTop + 1};${scrollBottom + 1}r`;
  if (hasScrollRegion || terminal.modes.originMode) {
    // DECSTBM and DECOM (emitted by the addon) home the cursor; CUP is region-relative under DECOM.
    const row = buffer.cursorY - (terminal.modes.originMode ? scrollTop : 0);
    extra += `\x1b[${row + 1};${buffer.cursorX + 1}H`;
  }
  if (core.coreService.isCursorHidden) extra += '\x1b[?25l';
  extra += MOUSE_ENCODING_MODES[core.coreMouseService.activeEncoding] ?? '';
  const { cursorStyle, cursorBlink } = core.coreService.decPrivateModes;
  if (cursorStyle) extra += `\x1b[${BLINKING_CURSOR_SHAPES[cursorStyle] + (cursorBlink ? 0 : 1)} q`;
  return extra;
}

function textOf(session: Session, offset: number): ScreenText {
  const { terminal } = session;
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < terminal.rows; row++) {
    const line = buffer.getLine(buffer.baseY + row)?.translateToString(true) ?? '';
    lines.push(line.replace(/ +$/, ''));
  }
  return {
    ...geometryOf(terminal, offset),
    text: lines.join('\n'),
    bracketedPaste: terminal.modes.bracketedPasteMode,
  };
}

function answer(requestId: number, produce: () => ScreenSnapshot | ScreenText): void {
  let result: ScreenResult;
  try {
    result = { requestId, ok: true, value: produce() };
  } catch (error) {
    result = { requestId, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  outbox.results.push(result);
  scheduleFlush();
}

function handle(command: ScreenCommand): void {
  if (command.kind === 'create') {
    createSession(command);
    return;
  }
  const session = sessions.get(command.id);
  if (!session) {
    if (command.kind === 'snapshot' || command.kind === 'text') {
      answer(command.requestId, () => {
        throw new Error(`unknown screen session: ${command.id}`);
      });
    }
    return;
  }
  switch (command.kind) {
    case 'write':
      write(session, command.id, command.data, command.endOffset);
      break;
    case 'resize':
      // Bytes written before the resize were produced for the old size.
      afterParsing(session, () => session.terminal.resize(command.cols, command.rows));
      break;
    case 'snapshot':
    case 'text': {
      const offset = session.writtenOffset;
      const produce = () =>
        command.kind === 'snapshot'
          ? snapshotOf(session, offset, command.screenOnly)
          : textOf(session, offset);
      afterParsing(session, () => answer(command.requestId, produce));
      break;
    }
    case 'answer':
      afterParsing(session, () => {
        session.answering = true;
      });
      break;
    case 'dispose':
      disposeSession(command.id, session);
      break;
  }
}

port.on('message', (batch: ScreenCommand[]) => {
  for (const command of batch) {
    try {
      handle(command);
    } catch (error) {
      console.error(`screen-worker: ${command.kind} ${command.id} failed:`, error);
    }
  }
});
