/**
 * The small sh wrapper a tmux pane runs its program under, and the filter that takes the wrapper's
 * in-band markers (the program's pid, then its exit status after its last byte) out of the pane's
 * output. Why a wrapper at all: see tmux-pty.ts.
 */

/** `sh -c WRAPPER tower-<id> NONCE program args…` */
export const WRAPPER = [
  'n=$1; shift',
  'exec 3>&2 2>/dev/null',
  'set -m',
  '"$@" 2>&3 3>&- &',
  'p=$!',
  'trap : INT QUIT',
  `printf '\\033]6973;%s;pid;%s\\007' "$n" "$p"`,
  's=',
  'while kill -0 "$p"; do fg %1 >/dev/null; s=$?; done',
  '[ -n "$s" ] || { wait "$p"; s=$?; }',
  `printf '\\033]2;tower-exit:%s:%s\\007' "$n" "$s"`,
  'exec sleep 2147483647',
].join('\n');

const ESC_OSC = '\x1b]';

/**
 * Takes the wrapper's two in-band markers out of the pane's output: `ESC ] 6973;NONCE;pid;N BEL` and
 * `ESC ] 2;tower-exit:NONCE:STATUS BEL`. A chunk ending in what may be the start of one is held back
 * until the next chunk says.
 */
export class MarkerFilter {
  private readonly prefixes: Buffer[];
  private tail = Buffer.alloc(0);

  constructor(nonce: string) {
    this.prefixes = [`${ESC_OSC}6973;${nonce};pid;`, `${ESC_OSC}2;tower-exit:${nonce}:`].map((p) =>
      Buffer.from(p),
    );
  }

  reset(): void {
    this.tail = Buffer.alloc(0);
  }

  push(chunk: Buffer): { data: Buffer; pid: number | null; exitStatus: number | null } {
    let input = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    this.tail = Buffer.alloc(0);
    const out: Buffer[] = [];
    let pid: number | null = null;
    let exitStatus: number | null = null;
    for (;;) {
      const found = this.nextMarker(input);
      if (!found) break;
      const { at, prefix, kind } = found;
      const bell = input.indexOf(0x07, at + prefix.length);
      if (bell === -1 || bell - at > prefix.length + 12) {
        if (bell === -1 && input.length - at <= prefix.length + 12) {
          out.push(input.subarray(0, at));
          this.tail = Buffer.from(input.subarray(at));
          return { data: Buffer.concat(out), pid, exitStatus };
        }
        // Not one of ours after all.
        out.push(input.subarray(0, at + 1));
        input = input.subarray(at + 1);
        continue;
      }
      const value = Number(input.subarray(at + prefix.length, bell).toString('latin1'));
      if (kind === 'pid') pid = value;
      else exitStatus = value;
      out.push(input.subarray(0, at));
      input = input.subarray(bell + 1);
    }
    const keep = this.partialPrefixAtEnd(input);
    out.push(input.subarray(0, input.length - keep));
    if (keep > 0) this.tail = Buffer.from(input.subarray(input.length - keep));
    return { data: Buffer.concat(out), pid, exitStatus };
  }

  private nextMarker(input: Buffer): { at: number; prefix: Buffer; kind: 'pid' | 'exit' } | null {
    let best: { at: number; prefix: Buffer; kind: 'pid' | 'exit' } | null = null;
    this.prefixes.forEach((prefix, index) => {
      const at = input.indexOf(prefix);
      if (at !== -1 && (!best || at < best.at)) best = { at, prefix, kind: index === 0 ? 'pid' : 'exit' };
    });
    return best;
  }

  /** The length of the longest end of `input` that begins one of the markers. */
  private partialPrefixAtEnd(input: Buffer): number {
    const from = input.lastIndexOf(0x1b);
    if (from === -1) return 0;
    const rest = input.subarray(from);
    return this.prefixes.some((p) => rest.length < p.length && p.subarray(0, rest.length).equals(rest))
      ? rest.length
      : 0;
  }
}
