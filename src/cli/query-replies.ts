/**
 * The daemon's screen model answers a program's terminal queries. An attached terminal answers
 * them too, on its stdin; those second answers must not reach the program. A reply is dropped only
 * while a query of its kind is outstanding in the output, so keys that look alike (Shift-F3 is
 * `ESC [ 1 ; 2 R`, like a cursor position report) pass when nothing was asked.
 */
const QUERIES = {
  // DA1 `ESC [ c` / `ESC [ 0 c`, DA2 `ESC [ > c` / `ESC [ > 0 c`.
  deviceAttributes: /\x1b\[(?:>)?0?c/g,
  // DSR 6: cursor position.
  cursorPosition: /\x1b\[\??6n/g,
};
const REPLIES = {
  deviceAttributes: /\x1b\[[?>][\d;]*c/g,
  cursorPosition: /\x1b\[\??\d+;\d+R/g,
};
type Kind = keyof typeof QUERIES;
const KINDS = Object.keys(QUERIES) as Kind[];

/** Queries split across two output chunks are caught by keeping the end of the previous one. */
const CARRY = 8;

export class QueryReplyFilter {
  private readonly outstanding: Record<Kind, number> = { deviceAttributes: 0, cursorPosition: 0 };
  private carry = '';

  /** Note the queries in a chunk of session output on its way to the local terminal. */
  sawOutput(chunk: Buffer): void {
    const text = this.carry + chunk.toString('latin1');
    for (const kind of KINDS) {
      const found = text.match(QUERIES[kind])?.length ?? 0;
      // Matches inside the carried tail were already counted.
      const already = this.carry.match(QUERIES[kind])?.length ?? 0;
      this.outstanding[kind] += found - already;
    }
    this.carry = text.slice(-CARRY);
  }

  /** Input from the local terminal, without its replies to queries that are outstanding. */
  filterInput(chunk: Buffer): Buffer {
    let text = chunk.toString('latin1');
    for (const kind of KINDS) {
      if (this.outstanding[kind] === 0) continue;
      text = text.replace(REPLIES[kind], (reply) => {
        if (this.outstanding[kind] === 0) return reply;
        this.outstanding[kind] -= 1;
        return '';
      });
    }
    return Buffer.from(text, 'latin1');
  }
}
