/**
 * Takes a session's in-band status signals (src/protocol/inband-signal.ts) out of its PTY output,
 * before the journal, the screen or any subscriber sees a byte of them. Only a complete sequence that
 * carries the session's key, with a body of at most MAX_SIGNAL_BODY_BYTES, is a signal; anything else
 * (another key, no terminator within the bound, an ESC that is not ST) is output and passes unchanged.
 * A sequence split across reads is held until its end arrives: at most the prefix and the bounded body,
 * and given up as output (`release`) when the rest does not follow promptly (SignalTap's timer).
 */
import { MAX_SIGNAL_BODY_BYTES, signalPrefix } from '../protocol/inband-signal.js';

const BEL = 0x07;
const ESC = 0x1b;
const BACKSLASH = 0x5c;
const EMPTY = Buffer.alloc(0);

export interface Filtered {
  output: Buffer;
  /** The bodies (JSON text) of the signals found, in order. */
  signals: Buffer[];
}

type End = { bodyEnd: number; next: number } | 'incomplete' | 'not_a_signal';

export class SignalFilter {
  private readonly prefix: Buffer;
  private held: Buffer = EMPTY;

  constructor(key: string) {
    this.prefix = Buffer.from(signalPrefix(key));
  }

  /** Bytes are held back, waiting for the rest of a sequence. */
  get holding(): boolean {
    return this.held.length > 0;
  }

  push(chunk: Buffer): Filtered {
    const input = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = EMPTY;
    const output: Buffer[] = [];
    const signals: Buffer[] = [];
    let copied = 0;
    let scan = 0;
    for (;;) {
      const start = input.indexOf(this.prefix, scan);
      if (start < 0) {
        const partial = this.partialPrefixAt(input, scan);
        output.push(input.subarray(copied, partial));
        this.held = input.subarray(partial);
        break;
      }
      const end = sequenceEnd(input, start + this.prefix.length);
      if (end === 'not_a_signal') {
        scan = start + 1;
        continue;
      }
      output.push(input.subarray(copied, start));
      if (end === 'incomplete') {
        this.held = input.subarray(start);
        break;
      }
      signals.push(Buffer.from(input.subarray(start + this.prefix.length, end.bodyEnd)));
      copied = scan = end.next;
    }
    const kept = output.filter((part) => part.length > 0);
    return { output: kept.length === 1 ? kept[0]! : Buffer.concat(kept), signals };
  }

  /** Give up waiting: what was held is output after all. */
  release(): Buffer {
    const held = this.held;
    this.held = EMPTY;
    return held;
  }

  /** Where a possible beginning of the prefix starts at the very end of input (input.length if none). */
  private partialPrefixAt(input: Buffer, from: number): number {
    // The prefix holds ESC only as its first byte, so the last ESC is the one candidate.
    const at = input.lastIndexOf(ESC);
    if (at < Math.max(from, input.length - this.prefix.length + 1)) return input.length;
    return input.subarray(at).equals(this.prefix.subarray(0, input.length - at)) ? at : input.length;
  }
}

/** The end of the body that starts at `body`: BEL or ESC \ within the bound. */
function sequenceEnd(input: Buffer, body: number): End {
  const window = input.subarray(body, body + MAX_SIGNAL_BODY_BYTES + 1);
  const bel = window.indexOf(BEL);
  const esc = window.indexOf(ESC);
  const first = bel < 0 ? esc : esc < 0 ? bel : Math.min(bel, esc);
  if (first < 0) return input.length - body > MAX_SIGNAL_BODY_BYTES ? 'not_a_signal' : 'incomplete';
  const at = body + first;
  if (input[at] === BEL) return { bodyEnd: at, next: at + 1 };
  if (at + 1 === input.length) return 'incomplete';
  return input[at + 1] === BACKSLASH ? { bodyEnd: at, next: at + 2 } : 'not_a_signal';
}

/** How long the start of a signal waits for its end before it is given up as output. */
const HOLD_MS = 100;

export interface SignalTapSink {
  output(chunk: Buffer): void;
  /** After the output read before them. */
  signals(bodies: Buffer[]): void;
  problem(message: string): void;
}

/**
 * A session's filter with its hold timer: every read goes through it, what is output is handed on at
 * once and what is held waits at most HOLD_MS. Nothing is thrown out of a PTY data callback.
 */
export class SignalTap {
  private readonly filter: SignalFilter;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    key: string,
    private readonly sink: SignalTapSink,
  ) {
    this.filter = new SignalFilter(key);
  }

  push(chunk: Buffer): void {
    clearTimeout(this.timer);
    try {
      const { output, signals } = this.filter.push(chunk);
      if (output.length > 0) this.sink.output(output);
      if (signals.length > 0) this.sink.signals(signals);
    } catch (error) {
      this.sink.problem(`a status signal not taken: ${(error as Error).message}`);
    }
    if (this.filter.holding) this.timer = setTimeout(this.release, HOLD_MS);
  }

  /** The rest did not follow, or the program ended: what is held is output after all. */
  readonly release = (): void => {
    clearTimeout(this.timer);
    const held = this.filter.release();
    if (held.length > 0) this.sink.output(held);
  };

  stop(): void {
    clearTimeout(this.timer);
  }
}
