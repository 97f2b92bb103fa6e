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
      const line = encodeOutputLine('a.b-c_9', 123456789, data).toString('latin1');
      expect(line).toBe(`${JSON.stringify(message)}\n`);
      const parsed = DaemonMessage.parse(JSON.parse(line));
      expect(Buffer.from((parsed as { data: string }).data, 'base64').equals(data)).toBe(true);
    }
  });

  it('escapes the session id like JSON does', () => {
    expect(JSON.parse(encodeOutputLine('q"\\', 0, Buffer.from('x')).toString()).session_id).toBe('q"\\');
  });

  it('hands subscribers given the same bytes the same line, and others their own', () => {
    const memory = randomBytes(4096);
    const line = encodeOutputLine('s1', 100, memory.subarray(10, 2000));
    expect(encodeOutputLine('s1', 100, memory.subarray(10, 2000))).toBe(line);
    // The same bytes elsewhere in memory, another length, offset or session: encoded anew.
    expect(encodeOutputLine('s1', 100, Buffer.from(memory.subarray(10, 2000)))).not.toBe(line);
    expect(encodeOutputLine('s1', 100, memory.subarray(10, 2001))).not.toBe(line);
    expect(encodeOutputLine('s1', 101, memory.subarray(10, 2000))).not.toBe(line);
    expect(encodeOutputLine('s2', 100, memory.subarray(10, 2000)).toString()).toContain('"session_id":"s2"');
  });
});
