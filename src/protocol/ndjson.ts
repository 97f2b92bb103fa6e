/**
 * Splits a byte stream into newline-delimited lines with a size cap. An oversize line
 * is reported once and skipped up to its newline, so the connection stays usable.
 */
export type LineEvent = { line: string } | { tooLong: number };

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private discarding = false;

  constructor(private readonly maxBytes: number) {}

  *push(chunk: Buffer): Generator<LineEvent> {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      const piece = chunk.subarray(start, end);
      if (!this.discarding) {
        if (this.partBytes + piece.length > this.maxBytes) {
          const seen = this.partBytes + piece.length;
          this.discarding = true;
          this.parts = [];
          this.partBytes = 0;
          yield { tooLong: seen };
        } else if (piece.length > 0) {
          this.parts.push(piece);
          this.partBytes += piece.length;
        }
      }
      if (newline === -1) return;
      if (this.discarding) {
        this.discarding = false;
      } else {
        const line = Buffer.concat(this.parts, this.partBytes).toString('utf8');
        this.parts = [];
        this.partBytes = 0;
        if (line.trim().length > 0) yield { line };
      }
      start = newline + 1;
    }
  }
}
