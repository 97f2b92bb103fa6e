/**
 * A phase's shell on the box: one `sh` per script, its output (stdout and stderr together) appended to
 * the phase's log there (~/.tower/bootstrap/<phase>.log, the directory 0700) and streamed back line by
 * line. Lines reach the user bounded in length and in rate; the log on the box keeps everything.
 */
import type { Readable } from 'node:stream';
import { TowerError } from '../../protocol/index.js';
import type { Box } from '../box/types.js';

export const MAX_LINE_CHARS = 400;
const TAIL_LINES = 20;
/** At most this many lines per window reach the user; the rest are counted, and said to be in the log. */
const LINES_PER_WINDOW = 40;
const WINDOW_MS = 250;
const MAX_KEPT_OUTPUT = 256 * 1024;

/**
 * $1: the phase, $2: the script. The script runs in a subshell so an `exit` in it still gets logged;
 * its status travels through a file because a pipeline's status is the last command's (tee's).
 */
const WRAPPER = `umask 077
d="$HOME/.tower/bootstrap"
mkdir -p "$d" && chmod 700 "$HOME/.tower" "$d" || exit 125
log="$d/$1.log"
printf '== %s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >>"$log"
status="$d/.$1.$$.status"
{ (eval "$2"); echo $? >"$status"; } 2>&1 | tee -a "$log"
code=$(cat "$status" 2>/dev/null || echo 1)
rm -f "$status"
exit "$code"`;

export interface ShellOptions {
  /** Sent to the script's standard input (then closed). */
  input?: Readable | Buffer;
  timeoutMs?: number;
  /** A non-zero exit is returned instead of thrown. */
  allowFailure?: boolean;
}

export interface ShellResult {
  code: number | null;
  /** Its output (the first MAX_KEPT_OUTPUT bytes), for the phase to read. */
  output: string;
}

export class PhaseShell {
  /** The last lines of every script of the phase, for the persisted state. */
  readonly tail: string[] = [];
  private windowStart = 0;
  private windowLines = 0;
  private hidden = 0;

  constructor(
    private readonly box: Box,
    private readonly phase: string,
    private readonly env: Record<string, string>,
    private readonly line: (line: string) => void,
  ) {}

  async run(script: string, options: ShellOptions = {}): Promise<ShellResult> {
    const child = await this.box.spawn(['sh', '-c', WRAPPER, 'tower-bootstrap', this.phase, script], {
      env: this.env,
    });
    let kept = '';
    let partial = '';
    const take = (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (kept.length < MAX_KEPT_OUTPUT) kept += `${line}\n`;
        this.show(line.replace(/\r$/, ''));
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.stdout.on('error', () => {});
    child.stderr.on('error', () => {});
    child.stdin.on('error', () => {});
    const { input } = options;
    if (input === undefined || Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, options.timeoutMs ?? 120_000);
    const exit = await child.exit.finally(() => clearTimeout(timer));
    if (partial) take(Buffer.from('\n'));
    this.flushHidden();
    if (timedOut)
      throw new TowerError(
        'substrate_unavailable',
        `timed out after ${(options.timeoutMs ?? 120_000) / 1000} s`,
      );
    if (exit.code !== 0 && !options.allowFailure) {
      const last = kept.trimEnd().split('\n').pop() || `exit code ${exit.code ?? exit.signal}`;
      throw new TowerError('substrate_unavailable', last.slice(0, MAX_LINE_CHARS));
    }
    return { code: exit.code, output: kept };
  }

  private show(raw: string): void {
    const line = raw.length > MAX_LINE_CHARS ? `${raw.slice(0, MAX_LINE_CHARS)}…` : raw;
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.flushHidden();
      this.windowStart = now;
      this.windowLines = 0;
    }
    if (this.windowLines >= LINES_PER_WINDOW) {
      this.hidden += 1;
      return;
    }
    this.windowLines += 1;
    this.line(line);
  }

  private flushHidden(): void {
    if (this.hidden === 0) return;
    this.line(`… ${this.hidden} more lines (all are in ~/.tower/bootstrap/${this.phase}.log on the box)`);
    this.hidden = 0;
  }
}
