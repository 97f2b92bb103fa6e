/**
 * What clients typed into a session since it was last submitted: the hint that the input line holds
 * the user's unsent draft. Every key reaches the program through a client (Tower's own prompts do not
 * pass here), so no typed keys means no draft; the screen then says whether typed keys are still there.
 */
import { type Clock, systemClock } from '../state/clock.js';

/** Bytes a terminal sends that are not typing: focus reports, mouse reports, replies to queries. */
const NOT_TYPING =
  /\x1b\[[IO]|\x1b\[<[\d;]*[Mm]|\x1b\[M[\s\S]{3}|\x1b\[[?>][\d;]*c|\x1b\[\d+;\d+R|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;
/** A bracketed paste is text, whatever it holds (its line breaks do not submit). */
const PASTE = /\x1b\[200~[\s\S]*?\x1b\[201~/g;
/** Enter submits; Ctrl-C and Ctrl-U clear the line in agents and shells alike. */
const SUBMIT = '\r';
const CLEARS = ['\r', '\x03', '\x15'];

export class TypedInput {
  /** Keys were typed after the last submit or clear, and may still sit on the input line. */
  pending = false;
  /** Chunks of typing seen: one arriving while Tower pastes a prompt means the two mixed. */
  count = 0;
  /** When a client last pressed Enter, and the tracker's activity count then. */
  submitted: { at: number; activity: number } | null = null;

  constructor(private readonly clock: Clock = systemClock) {}

  typed(data: Buffer, activity: number): void {
    const keys = data.toString('latin1').replace(PASTE, 'p').replace(NOT_TYPING, '');
    if (keys === '') return;
    this.count += 1;
    const cut = Math.max(...CLEARS.map((key) => keys.lastIndexOf(key)));
    if (keys.slice(0, cut + 1).includes(SUBMIT)) this.submitted = { at: this.clock.now(), activity };
    this.pending = cut < keys.length - 1;
  }

  /** The agent took what was typed (it went busy, or a dialog took the keys), or the screen shows it gone. */
  clear(): void {
    this.pending = false;
  }
}
