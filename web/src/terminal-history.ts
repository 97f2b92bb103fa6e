/**
 * Output older than the first snapshot's scrollback, loaded from the journal when the user scrolls
 * to the top or opens the find bar.
 *
 * A snapshot carries the scrollback the daemon keeps (`serve --scrollback`, 1000 lines by default),
 * while the journal holds far more. One step rebuilds the terminal with more of it:
 *   1. the WebSocket asks for a screen-only snapshot: the visible screen as of offset S, after which
 *      output continues from S; that output is held here, not written, until step 3 is queued;
 *   2. GET /api/sessions/:id/output fetches the raw bytes from F up to S;
 *   3. the terminal is reset, the bytes from F (from the first line start after F) are replayed so
 *      their lines scroll into the scrollback, the modes they left are reset, the screen is cleared
 *      (which keeps the scrollback) and the snapshot painted: the scrollback is the replay and the
 *      screen exactly the daemon's; then the held output is written and ACKed as usual.
 * Bounded: the first step loads 1 MiB before S, each next one twice as much, at most MAX_STEP_BYTES,
 * and loading stops once a step started at the first retained byte, hit that cap, or filled the
 * terminal's scrollback. Held output is bounded by the server's window (it stops sending 512 KiB
 * past the last ACK); past MAX_HELD_BYTES, or when a fetch fails, the step is dropped for a plain
 * snapshot. Painting is wrapped in synchronized output (DECSET 2026), so the replay does not flash.
 */
import type { IBufferRange, Terminal } from '@xterm/xterm';
import { api } from './api.js';
import type { WsServerMessage } from './types.js';

type Snapshot = Extract<WsServerMessage, { type: 'snapshot' }>;

const FIRST_STEP_BYTES = 1 << 20;
export const MAX_STEP_BYTES = 8 << 20;
const MAX_HELD_BYTES = 4 << 20;

const SYNC_ON = '\x1b[?2026h';
const SYNC_OFF = '\x1b[?2026l';
/**
 * What the replayed bytes may have left behind that a snapshot, written for a fresh terminal, does
 * not undo: the alternate screen; modes (DECSTR: keypad, cursor keys, bracketed paste, focus
 * reports, origin, wraparound, scroll region, attributes, cursor shape); mouse tracking and its
 * encodings.
 */
const RESET_AFTER_REPLAY =
  '\x1b[?1049l\x1b[!p\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l';
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export interface HistoryHost {
  readonly sessionId: string;
  readonly term: Terminal;
  /** Ask the server for the visible screen only; false when not connected. */
  requestScreenOnly(): boolean;
  /** Ask for a whole snapshot (a step that cannot finish is dropped for one). */
  requestSnapshot(): void;
  /** Give the terminal the snapshot's size, laid out for this pane. */
  sizeTo(cols: number, rows: number): void;
  /** Output up to `offset` is on screen. */
  ack(offset: number): void;
  /** A step finished with `added` more lines; `previousTop`: the line the view showed at its top,
   *  when the user had scrolled up (null when it followed the output). */
  rebuilt(added: number, previousTop: number | null): void;
}

interface Selected {
  range: IBufferRange;
  text: string;
  cols: number;
}

interface Step {
  /** Straight to the cap (the find bar) rather than one step. */
  all: boolean;
  snapshot?: Snapshot;
  held: Array<{ bytes: Uint8Array; end: number }>;
  heldBytes: number;
  /** Held output is queued in the terminal: what arrives now is written directly. */
  writing: boolean;
  /** Waiting for the whole snapshot asked for instead: output until then is dropped. */
  dropped: boolean;
}

export class TerminalHistory {
  private firstRetained = 0;
  /** Bytes the last step replayed; 0 while the view has only the snapshot's own scrollback. */
  private window = 0;
  private complete = false;
  /** The step under way; a fetch or a write callback of any other step is void. */
  private step: Step | null = null;

  constructor(private readonly host: HistoryHost) {}

  /** A new connection (hello): whatever was under way is void. */
  reset(firstRetained: number): void {
    this.firstRetained = firstRetained;
    this.step = null;
    this.window = 0;
    this.complete = false;
  }

  /** Load older output: one more step (scrolled to the top), or all up to the cap (`all`, for search). */
  load(all: boolean): void {
    if (this.step || this.complete || this.host.term.buffer.active.type !== 'normal') return;
    if (!this.host.requestScreenOnly()) return;
    this.step = this.newStep(all);
  }

  /** A whole snapshot is being painted (attach, resync, or the one asked for instead of a step). */
  wholeSnapshot(): void {
    // One still awaited may come after a resync already on its way; anything later is void.
    if (this.step && !this.step.snapshot && !this.step.dropped) return;
    this.step = null;
    this.window = 0;
    this.complete = false;
  }

  /** Output from the WebSocket: true when it is held (or dropped) here instead of written. */
  holds(bytes: Uint8Array, end: number): boolean {
    const step = this.step;
    if (!step || step.writing) return false;
    if (step.dropped) return true;
    if (!step.snapshot) return false; // still the old screen's output
    step.held.push({ bytes, end });
    step.heldBytes += bytes.length;
    if (step.heldBytes > MAX_HELD_BYTES) this.drop(step);
    return true;
  }

  /** The screen-only snapshot: fetch the history before it, then rebuild. */
  screenOnly(snapshot: Snapshot): void {
    // Also where a whole snapshot was asked for (the server sends this one instead): a step as well.
    if (!this.step || this.step.snapshot || this.step.dropped) this.step = this.newStep(false);
    const step = this.step;
    step.snapshot = snapshot;
    const target = step.all ? MAX_STEP_BYTES : Math.min(MAX_STEP_BYTES, this.window * 2 || FIRST_STEP_BYTES);
    this.fetch(snapshot.offset, target).then(
      (range) => {
        if (this.step === step && !step.dropped) this.rebuild(step, snapshot, range, target);
      },
      () => {
        if (this.step === step) this.drop(step);
      },
    );
  }

  private newStep(all: boolean): Step {
    return { all, held: [], heldBytes: 0, writing: false, dropped: false };
  }

  /** The bytes before `end`, up to `target` of them; once more if the journal was trimmed meanwhile. */
  private async fetch(end: number, target: number) {
    const from = () => Math.min(end, Math.max(this.firstRetained, end - target));
    try {
      return await api.output(this.host.sessionId, from(), end);
    } catch {
      this.firstRetained = (await api.session(this.host.sessionId)).first_offset;
      return api.output(this.host.sessionId, from(), end);
    }
  }

  private rebuild(
    step: Step,
    snapshot: Snapshot,
    range: { start: number; bytes: Uint8Array; firstOffset: number },
    target: number,
  ): void {
    const { term } = this.host;
    this.firstRetained = range.firstOffset;
    const fromStart = range.start <= range.firstOffset;
    // Mid-stream bytes may begin inside a line or an escape sequence: start at the next line.
    const skip = fromStart ? 0 : range.bytes.indexOf(0x0a) + 1;
    const before = term.buffer.normal;
    const previousLines = before.length;
    const previousTop = before.viewportY < before.baseY ? before.viewportY : null;
    const selection = this.selection();
    step.writing = true;
    term.write('\x1bc');
    this.host.sizeTo(snapshot.cols, snapshot.rows);
    term.write(SYNC_ON);
    term.write(range.bytes.subarray(skip));
    term.write(RESET_AFTER_REPLAY + SYNC_ON + CLEAR_SCREEN + snapshot.data + SYNC_OFF, () => {
      this.host.ack(snapshot.offset);
      if (this.step !== step) return;
      const lines = term.buffer.normal.length;
      const full = lines >= term.rows + (term.options.scrollback ?? 0);
      this.window = target;
      this.complete = fromStart || target >= MAX_STEP_BYTES || full;
      this.step = null;
      this.reselect(selection, lines - previousLines);
      this.host.rebuilt(lines - previousLines, previousTop);
      // Nothing gained (the replay was shorter than the snapshot's scrollback): go further at once.
      if (lines <= previousLines && !this.complete) this.load(step.all);
    });
    for (const { bytes, end } of step.held) term.write(bytes, () => this.host.ack(end));
    step.held = [];
  }

  /** What is selected now, to select again once the terminal is rebuilt (a find's match, say). */
  private selection(): Selected | null {
    const { term } = this.host;
    const range = term.getSelectionPosition();
    return range ? { range, text: term.getSelection(), cols: term.cols } : null;
  }

  /** The same text again, `added` lines further down; nothing if it is not the same text there. */
  private reselect(selected: Selected | null, added: number): void {
    const { term } = this.host;
    if (!selected || term.hasSelection() || term.cols !== selected.cols) return;
    const { start, end } = selected.range;
    if (start.y + added < 0) return;
    term.select(start.x, start.y + added, (end.y - start.y) * selected.cols + end.x - start.x);
    if (term.getSelection() !== selected.text) term.clearSelection();
  }

  /** Give up on a step: a whole snapshot replaces the screen; output until then is dropped. */
  private drop(step: Step): void {
    step.dropped = true;
    step.held = [];
    this.host.requestSnapshot();
  }
}
