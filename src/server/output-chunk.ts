/** read_output: bytes from the journal; a start inside a gap (lost or damaged on disk) skips to its end, saying so. */
import { type ClientMessage, type DaemonMessageOf, TowerError } from '../protocol/index.js';
import type { Journal } from '../terminal/journal.js';

export function outputChunk(
  journal: Journal,
  request: Extract<ClientMessage, { type: 'read_output' }>,
  defaultBytes: number,
): DaemonMessageOf<'output_chunk'> {
  const from = request.from_offset ?? journal.start;
  if (from < journal.start || from > journal.end) {
    throw new TowerError(
      'offset_not_retained',
      `offset ${from} is not retained: output is held from ${journal.start} to ${journal.end}`,
    );
  }
  const maxBytes = request.max_bytes ?? defaultBytes;
  let at = journal.nextRetained(from);
  let data: Buffer;
  try {
    data = journal.read(at, maxBytes);
  } catch (error) {
    if (!(error instanceof TowerError)) throw error;
    // The read found a segment unreadable or damaged just now: it is skipped from here on.
    at = journal.nextRetained(at);
    data = journal.read(at, maxBytes);
  }
  const skipped =
    at > from ? journal.health().gaps.find((gap) => gap.from <= from && gap.to >= at) : undefined;
  return {
    type: 'output_chunk',
    session_id: request.session_id,
    offset: at,
    data: data.toString('base64'),
    first_offset: journal.start,
    last_offset: journal.end,
    skipped: at > from ? { from, to: at, reason: skipped?.reason ?? 'not_saved' } : undefined,
    req_id: request.req_id,
  };
}
