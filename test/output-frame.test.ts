/** The hand-encoded session_output line is the JSON the schema describes, byte for byte. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeOutputLine } from '../dist/protocol/output-frame.js';
import { DaemonMessage } from '../dist/protocol/socket.js';

describe('encodeOutputLine', () => {
  it('equals JSON.stringify of the schema-valid message, for any bytes', () => {
    for (const size of [0, 1, 2, 3, 4, 1000, 65536]) {
      const data = randomBytes(size);
      const message = {
        type: 'session_output',
        session_id: 'a.b-c_9',
        offset: 123456789,
        data: data.toString('base64'),
      };
      const line = encodeOutputLine('a.b-c_9', 123456789, data);
      expect(line).toBe(`${JSON.stringify(message)}\n`);
      const parsed = DaemonMessage.parse(JSON.parse(line));
      expect(Buffer.from((parsed as { data: string }).data, 'base64').equals(data)).toBe(true);
    }
  });

  it('escapes the session id like JSON does', () => {
    expect(JSON.parse(encodeOutputLine('q"\\', 0, Buffer.from('x'))).session_id).toBe('q"\\');
  });
});
