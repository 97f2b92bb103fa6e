/**
 * The `session_output` line, encoded without JSON.stringify: it is the hot path, and base64 never
 * needs escaping, so scanning megabytes of it for characters to escape is wasted work.
 * The result is the same JSON the schema describes (covered by a test against JSON.parse).
 */
export function encodeOutputLine(sessionId: string, offset: number, data: Buffer): string {
  return `{"type":"session_output","session_id":${JSON.stringify(sessionId)},"offset":${offset},"data":"${data.toString('base64')}"}\n`;
}
