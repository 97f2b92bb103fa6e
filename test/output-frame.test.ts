/** The hand-encoded session_output line is the JSON the schema describes, byte for byte. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeOutputLine, encodeOutputLine } from '../dist/protocol/output-frame.js';
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

describe('decodeOutputLine', () => {
  it('reads back what encodeOutputLine wrote, as JSON.parse would', () => {
    for (const size of [0, 1, 2, 3, 4, 1000, 65536]) {
      const data = randomBytes(size);
      const line = encodeOutputLine('a.b-c_9', 9007199254740, data);
      const decoded = decodeOutputLine(line.subarray(0, -1));
      expect(decoded).toEqual({ sessionId: 'a.b-c_9', offset: 9007199254740, data });
      const parsed = JSON.parse(line.toString());
      expect(Buffer.from(parsed.data, 'base64').equals(decoded!.data)).toBe(true);
    }
  });

  it('leaves any other line to JSON.parse', () => {
    const line = (text: string) => decodeOutputLine(Buffer.from(text));
    // An agor-pty redraw (no offset), an escaped id, another order, other messages, a torn line.
    expect(line('{"type":"session_output","session_id":"s","data":"eA=="}')).toBeNull();
    expect(line('{"type":"session_output","session_id":"q\\"x","offset":1,"data":"eA=="}')).toBeNull();
    expect(line('{"type":"session_output","session_id":"s","data":"eA==","offset":1}')).toBeNull();
    expect(line('{"type":"session_output","session_id":"s","offset":1,"data":"e\\/A=="}')).toBeNull();
    expect(line('{"type":"session_output","session_id":"s","offset":1,"data":"eA=="}\r')).toBeNull();
    expect(line('{"type":"session_output","session_id":"s","offset":,"data":"eA=="}')).toBeNull();
    expect(line('{"type":"session_output","session_id":"s","offset":1,"data":"eA==')).toBeNull();
    expect(line('{"type":"pong"}')).toBeNull();
    expect(line('{"type":"session_output","session_id":"s","offset":1,"data":"eA=="}')).toEqual({
      sessionId: 's',
      offset: 1,
      data: Buffer.from('x'),
    });
  });
});
