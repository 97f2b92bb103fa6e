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
