/**
 * One tmux control-mode client (`tmux -C`) over a box process: the single channel through which Tower
 * drives every tmux session on a box. Commands go out one a line and are answered in order by
 * `%begin … %end|%error` blocks; between blocks tmux sends notifications, `%output %PANE bytes` above
 * all. Everything is parsed as bytes: pane output is octal-escaped by tmux and decoded back to the exact
 * bytes, never through a UTF-8 string.
 *
 * Flow control: tmux 3.3's per-pane `refresh-client -A %P:off|pause` and `pause-after` both skip the
 * client to the pane's current offset when it is switched back on, dropping what was read meanwhile, so
 * they cannot hold a session back without loss. The lossless brake is the pipe itself: while the reader
 * is paused tmux stops reading every pane once its buffer for this client passes 8 KiB. tmux ends a
 * client whose oldest unsent output is five minutes old ("too far behind"); the channel then closes and
 * is reopened, and its sessions reattached with a gap.
 */
import { EventEmitter } from 'node:events';
import { TowerError } from '../../protocol/index.js';
import type { Box, BoxProcess } from '../box/types.js';

/** The tmux session the control client attaches to; every Tower session is a window in it. */
export const TOWER_SESSION = 'tower';
/** Commands written and not yet answered, past which `command` refuses. */
export const MAX_PENDING_COMMANDS = 1024;
/** A line, or a command's answer, longer than this is not tmux's: the channel is closed. */
export const MAX_CONTROL_BYTES = 64 * 1024 * 1024;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

export interface ControlEvents {
  /** Bytes a pane printed, exact. */
  output: [pane: string, data: Buffer];
  /** Any other notification, by name without `%` (`window-close`, `sessions-changed`, …). */
  notification: [name: string, args: string];
  /** The channel is gone (tmux exited, the process or the link broke); pending commands were rejected. */
  closed: [reason: string];
}

export interface ControlOptions {
  /** tmux's socket name (`-L`); one server per name. Default `tower`. */
  socket?: string;
  /** The program the keeper window runs: it keeps the session (and so the server) alive. */
  keeperCommand?: string[];
}

/** A command's answer: its output lines as bytes (capture-pane) or text. */
export class Answer {
  constructor(readonly lines: Buffer[]) {}
  text(): string[] {
    return this.lines.map((line) => line.toString('utf8'));
  }
}

interface Pending {
  onAnswer?: (answer: Answer) => void;
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
  line: string;
}

type ParserEvent =
  | { type: 'block'; error: boolean; fromClient: boolean; lines: Buffer[] }
  | { type: 'output'; pane: string; data: Buffer }
  | { type: 'notification'; name: string; args: string }
  | { type: 'overflow' };

/** tmux's control-mode output as events; lines are split on raw LF, the only byte tmux never escapes. */
export class ControlParser {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private block: { guard: string; fromClient: boolean; lines: Buffer[]; bytes: number } | null = null;

  constructor(private readonly maxBytes = MAX_CONTROL_BYTES) {}

  push(chunk: Buffer): ParserEvent[] {
    const events: ParserEvent[] = [];
    // What a box sends is held only within bounds: a line or an answer that never ends is not tmux.
    this.partialBytes += chunk.length;
    if (this.partialBytes > this.maxBytes || (this.block?.bytes ?? 0) > this.maxBytes) {
      this.partial = [];
      this.block = null;
      return [{ type: 'overflow' }];
    }
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) break;
      const piece = chunk.subarray(start, end);
      const line = this.partial.length > 0 ? Buffer.concat([...this.partial.splice(0), piece]) : piece;
      const event = this.line(line);
      if (event) events.push(event);
      start = end + 1;
    }
    if (start > 0) this.partialBytes = chunk.length - start;
    if (start < chunk.length) this.partial.push(Buffer.from(chunk.subarray(start)));
    return events;
  }

  private line(line: Buffer): ParserEvent | null {
    if (this.block) {
      // A block ends only at %end/%error with its own time, number and flags: output lines may look alike.
      const text = line.subarray(0, 80).toString('latin1');
      for (const end of ['%end ', '%error ']) {
        if (text.startsWith(end) && text.slice(end.length) === this.block.guard) {
          const { fromClient, lines } = this.block;
          this.block = null;
          return { type: 'block', error: end === '%error ', fromClient, lines };
        }
      }
      this.block.lines.push(Buffer.from(line));
      this.block.bytes += line.length;
      return null;
    }
    if (line[0] !== 0x25) return null;
    const space = line.indexOf(0x20);
    const name = line.subarray(1, space === -1 ? line.length : space).toString('latin1');
    if (name === 'output' || name === 'extended-output') return this.output(name, line, space);
    const args = space === -1 ? '' : line.subarray(space + 1).toString('utf8');
    if (name === 'begin') {
      // `%begin TIME NUMBER FLAGS`: flags 1 for a command this client sent (0: the command line's own).
      const flags = args.split(' ')[2] ?? '0';
      this.block = { guard: args, fromClient: (Number(flags) & 1) === 1, lines: [], bytes: 0 };
      return null;
    }
    return { type: 'notification', name, args };
  }

  private output(name: string, line: Buffer, space: number): ParserEvent | null {
    const paneEnd = line.indexOf(0x20, space + 1);
    if (paneEnd === -1) return null;
    const pane = line.subarray(space + 1, paneEnd).toString('latin1');
    let dataStart = paneEnd + 1;
    // `%extended-output %PANE AGE … : data`
    if (name === 'extended-output') dataStart = line.indexOf(' : ', paneEnd) + 3;
    if (dataStart < 3) return null;
    return { type: 'output', pane, data: decodeOctal(line.subarray(dataStart)) };
  }
}

/** tmux escapes bytes below 0x20 and the backslash as `\ooo`; every other byte is sent as itself. */
export function decodeOctal(escaped: Buffer): Buffer {
  if (escaped.indexOf(BACKSLASH) === -1) return Buffer.from(escaped);
  const out = Buffer.allocUnsafe(escaped.length);
  let n = 0;
  for (let i = 0; i < escaped.length; i++) {
    const byte = escaped[i]!;
    if (byte === BACKSLASH && i + 3 < escaped.length) {
      const digits = escaped.subarray(i + 1, i + 4);
      if (digits.every((d) => d >= 0x30 && d <= 0x37)) {
        out[n++] = ((digits[0]! - 0x30) << 6) | ((digits[1]! - 0x30) << 3) | (digits[2]! - 0x30);
        i += 3;
        continue;
      }
    }
    out[n++] = byte;
  }
  return Buffer.from(out.subarray(0, n));
}

/**
 * One argument for tmux's command parser: double-quoted, with what the parser would expand (`\`, `$`,
 * `~`, the closing quote) and every control byte escaped, so no value can end the argument, the
 * command or the line.
 */
export function tmuxQuote(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '\\' || char === '"' || char === '$' || char === '~') out += `\\${char}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

/** A literal for an argument tmux expands as a format (`-c`, `-s`, `-F`): `#` doubled. */
export function formatLiteral(value: string): string {
  return value.replaceAll('#', '##');
}

export class TmuxControl extends EventEmitter<ControlEvents> {
  private readonly parser = new ControlParser();
  private readonly pending: Pending[] = [];
  private closedReason: string | null = null;

  private constructor(
    readonly socket: string,
    private readonly process: BoxProcess,
  ) {
    super();
    process.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    process.stdout.on('error', () => {});
    process.stderr.on('data', () => {});
    process.stdin.on('error', () => {});
    void process.exit.then(({ code, signal }) => this.close(`tmux control client ended (${signal ?? code})`));
  }

  /** Start (or join) the box's tmux server and attach a control client to the Tower session. */
  static async start(box: Box, options: ControlOptions = {}): Promise<TmuxControl> {
    const socket = options.socket ?? 'tower';
    const keeper = options.keeperCommand ?? ['sleep', '2147483647'];
    // -f /dev/null: Tower's own server, untouched by the box user's ~/.tmux.conf.
    const argv = ['tmux', '-u', '-L', socket, '-f', '/dev/null', '-C'];
    argv.push('new-session', '-A', '-s', TOWER_SESSION, '-n', 'keeper', '--', ...keeper);
    const process = await box.spawn(argv);
    const control = new TmuxControl(socket, process);
    // Before any session's window exists: the exit status and the last screen stay readable.
    await control.command('set-option -g remain-on-exit on');
    await control.command('set-option -g history-limit 10000');
    return control;
  }

  get closed(): string | null {
    return this.closedReason;
  }

  /**
   * Run one command line; its answer, or a TowerError with tmux's message. `onAnswer` runs as the answer
   * is parsed, before any notification after it: what must be in place before the next `%output`.
   */
  command(line: string, onAnswer?: (answer: Answer) => void): Promise<Answer> {
    if (this.closedReason !== null) {
      return Promise.reject(new TowerError('substrate_unavailable', `tmux: ${this.closedReason}`));
    }
    if (this.pending.length >= MAX_PENDING_COMMANDS) {
      return Promise.reject(
        new TowerError(
          'substrate_unavailable',
          `tmux is not answering: ${this.pending.length} commands already wait (at most ${MAX_PENDING_COMMANDS})`,
        ),
      );
    }
    if (line.includes('\n')) throw new TowerError('bad_message', 'a tmux command is one line');
    return new Promise<Answer>((resolve, reject) => {
      this.pending.push({ onAnswer, resolve, reject, line });
      this.process.stdin.write(`${line}\n`);
    });
  }

  /** Commands written and not yet answered. */
  get backlog(): number {
    return this.pending.length;
  }

  /** Stop reading tmux (it then stops reading the panes); see the flow-control note above. */
  pauseReading(): void {
    this.process.stdout.pause();
  }

  resumeReading(): void {
    this.process.stdout.resume();
  }

  /** Detach (tmux keeps running with every session), or with `kill` end the client process. */
  close(reason = 'closed by Tower', kill = false): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    // An empty line detaches a control client.
    if (!kill) this.process.stdin.end('\n');
    else this.process.kill();
    for (const pending of this.pending.splice(0)) {
      pending.reject(new TowerError('substrate_unavailable', `tmux: ${reason}`));
    }
    this.emit('closed', reason);
  }

  private receive(chunk: Buffer): void {
    for (const event of this.parser.push(chunk)) {
      if (event.type === 'overflow') {
        this.close(`tmux sent a line or an answer longer than ${MAX_CONTROL_BYTES} bytes`, true);
        return;
      }
      if (event.type === 'output') this.emit('output', event.pane, event.data);
      else if (event.type === 'notification') {
        if (event.name === 'exit') this.close(`tmux ended the control client: ${event.args || 'exit'}`);
        else this.emit('notification', event.name, event.args);
      } else if (event.fromClient) {
        const pending = this.pending.shift();
        if (!pending) continue;
        if (!event.error) {
          const answer = new Answer(event.lines);
          pending.onAnswer?.(answer);
          pending.resolve(answer);
        } else {
          const message = Buffer.concat(event.lines).toString('utf8') || 'error';
          pending.reject(new TowerError('substrate_unavailable', `tmux: ${message} (${pending.line})`));
        }
      }
    }
  }
}
