/**
 * The key that detaches `tower attach` (default Ctrl-\, `--detach-key ctrl-]` or $TOWER_DETACH_KEY).
 * Pressed once, it detaches; pressed twice in a row, it is sent once to the program. Until the next
 * key says which, a single press waits a moment (GRACE_MS), so a lone press still detaches by itself.
 */
import { InvalidArgumentError } from 'commander';

export const DEFAULT_DETACH_KEY = 'ctrl-\\';
const GRACE_MS = 400;

/** `ctrl-X` (or `^X`) for a letter or one of @ [ \ ] ^ _, as a byte (Ctrl-A is 1 … Ctrl-_ is 31). */
export function parseDetachKey(spec: string): number {
  const match = /^(?:ctrl-|\^)(.)$/i.exec(spec.trim());
  const key = match?.[1]?.toUpperCase();
  const code = key === undefined ? -1 : key.charCodeAt(0) - 0x40;
  if (code < 0 || code > 31) {
    throw new InvalidArgumentError(
      'must be ctrl-<key>: a letter or one of @ [ \\ ] ^ _ (for example ctrl-])',
    );
  }
  return code;
}

export type DetachKeyInput = { type: 'input'; data: Buffer } | { type: 'detach' };

/** Splits keyboard input into what goes to the program and the moment to detach. */
export class DetachKeyFilter {
  private pending: NodeJS.Timeout | null = null;

  constructor(
    private readonly key: number,
    private readonly emit: (event: DetachKeyInput) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (this.pending) {
        this.cancel();
        if (chunk[i] === this.key) {
          this.emit({ type: 'input', data: Buffer.from([this.key]) });
          start = i + 1;
          continue;
        }
        // Another key after a single press: detach, and that key goes nowhere.
        this.emit({ type: 'detach' });
        return;
      }
      if (chunk[i] === this.key) {
        if (i > start) this.emit({ type: 'input', data: chunk.subarray(start, i) });
        start = i + 1;
        this.pending = setTimeout(() => {
          this.pending = null;
          this.emit({ type: 'detach' });
        }, GRACE_MS);
      }
    }
    if (start < chunk.length && !this.pending) this.emit({ type: 'input', data: chunk.subarray(start) });
  }

  cancel(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = null;
  }
}
