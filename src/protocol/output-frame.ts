/**
 * The `session_output` line, encoded without JSON.stringify: it is the hot path, and base64 never
 * needs escaping, so scanning megabytes of it for characters to escape is wasted work.
 * The result is the same JSON the schema describes (covered by a test against JSON.parse).
 *
 * It is built as bytes, once: a socket writes a Buffer as it is, where a string would be copied into
 * a new buffer for every socket. Subscribers reading in step are handed the same bytes (a view of the
 * same memory in the journal's ring), so the last few lines are kept and handed to each of them.
 */

/** Lines kept for subscribers in step: a few frames of memory at most. */
const RECENT_LINES = 4;

interface Encoded {
  memory: ArrayBufferLike;
  byteOffset: number;
  length: number;
  sessionId: string;
  offset: number;
  line: Buffer;
}

const recent: Encoded[] = [];

/**
 * The line for `data` at `offset` of a session, ending in a newline. Pure ASCII: base64 and a session
 * id (ids are ASCII letters, digits and `.-_`; anything else is JSON-escaped first).
 */
export function encodeOutputLine(sessionId: string, offset: number, data: Buffer): Buffer {
  for (const entry of recent) {
    if (
      entry.memory === data.buffer &&
      entry.byteOffset === data.byteOffset &&
      entry.length === data.length &&
      entry.offset === offset &&
      entry.sessionId === sessionId
    ) {
      return entry.line;
    }
  }
  const head = `{"type":"session_output","session_id":${JSON.stringify(sessionId)},"offset":${offset},"data":"`;
  const body = data.toString('base64');
  const line = Buffer.allocUnsafe(head.length + body.length + 3);
  let at = line.write(head, 0, 'latin1');
  at += line.write(body, at, 'latin1');
  line.write('"}\n', at, 'latin1');
  if (recent.length === RECENT_LINES) recent.shift();
  recent.push({
    memory: data.buffer,
    byteOffset: data.byteOffset,
    length: data.length,
    sessionId,
    offset,
    line,
  });
  return line;
}

const OUTPUT_PREFIX = Buffer.from('{"type":"session_output","session_id":"', 'latin1');
const OFFSET_FIELD = Buffer.from('","offset":', 'latin1');
const DATA_FIELD = Buffer.from(',"data":"', 'latin1');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function hasAt(line: Buffer, at: number, expected: Buffer): boolean {
  return (
    line.length >= at + expected.length &&
    line.compare(expected, 0, expected.length, at, at + expected.length) === 0
  );
}

/**
 * The reverse of encodeOutputLine, for a line (without its newline) exactly as it writes them: the
 * session, offset and bytes, without parsing the line as JSON or decoding it as UTF-8 first. Null for
 * any other line, which the reader then parses as JSON (escapes, another order, no offset).
 */
export function decodeOutputLine(line: Buffer): { sessionId: string; offset: number; data: Buffer } | null {
  if (!hasAt(line, 0, OUTPUT_PREFIX)) return null;
  const idStart = OUTPUT_PREFIX.length;
  const idEnd = line.indexOf(QUOTE, idStart);
  if (idEnd === -1 || !hasAt(line, idEnd, OFFSET_FIELD)) return null;
  for (let i = idStart; i < idEnd; i++) if (line[i]! === BACKSLASH || line[i]! >= 0x80) return null;
  let at = idEnd + OFFSET_FIELD.length;
  const digitsStart = at;
  let offset = 0;
  while (at < line.length && line[at]! >= 0x30 && line[at]! <= 0x39)
    offset = offset * 10 + line[at++]! - 0x30;
  if (at === digitsStart || at - digitsStart > 15 || !hasAt(line, at, DATA_FIELD)) return null;
  const dataStart = at + DATA_FIELD.length;
  const dataEnd = line.length - 2;
  if (dataEnd < dataStart || line[dataEnd] !== QUOTE || line[dataEnd + 1] !== 0x7d) return null;
  const quote = line.indexOf(QUOTE, dataStart);
  if (quote !== dataEnd || line.indexOf(BACKSLASH, dataStart) !== -1) return null;
  return {
    sessionId: line.toString('latin1', idStart, idEnd),
    offset,
    data: Buffer.from(line.toString('latin1', dataStart, dataEnd), 'base64'),
  };
}
