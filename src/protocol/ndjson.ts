/**
 * Splits a byte stream into newline-delimited lines with a size cap. An oversize line
 * is reported once and skipped up to its newline, so the connection stays usable.
 */
export type LineEvent = { line: string } | { tooLong: number };
export type LineBytesEvent = { bytes: Buffer } | { tooLong: number };

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private discarding = false;

  constructor(private readonly maxBytes: number) {}

  /** Part of a line has been pushed and its newline has not. */
  get midLine(): boolean {
    return this.partBytes > 0 || this.discarding;
  }

  /** Lines as text; blank ones are skipped. */
  *push(chunk: Buffer): Generator<LineEvent> {
    for (const event of this.pushBytes(chunk)) {
      if ('tooLong' in event) {
        yield event;
        continue;
      }
      const line = event.bytes.toString('utf8');
      if (line.trim().length > 0) yield { line };
    }
  }

  /**
   * Lines as bytes, for a reader that decodes some of them itself. A line that lies within one chunk is
   * a view of that chunk: use it before the next push, or copy it.
   */
  *pushBytes(chunk: Buffer): Generator<LineBytesEvent> {
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
        const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
        this.parts = [];
        this.partBytes = 0;
        if (bytes.length > 0) yield { bytes };
      }
      start = newline + 1;
    }
  }
}
