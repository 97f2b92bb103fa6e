/** Binary output frames between JSON lines: decoded exactly however the stream is cut into chunks. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeOutputFrame, FrameSplitter, MAX_FRAME_PAYLOAD } from '../dist/protocol/binary-frame.js';

type Item =
  | { line: string }
  | { frame: { sessionId: string; offset: number; data: string } }
  | { other: string };

function decode(stream: Buffer, cuts: number[]): Item[] {
  const splitter = new FrameSplitter(1 << 20);
  const items: Item[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    for (const event of splitter.push(stream.subarray(from, cut))) {
      if ('frame' in event) {
        const { sessionId, offset, data } = event.frame;
        items.push({ frame: { sessionId, offset, data: data.toString('hex') } });
      } else if ('bytes' in event) items.push({ line: event.bytes.toString('utf8') });
      else items.push({ other: JSON.stringify(event) });
    }
    from = cut;
  }
  return items;
}

describe('binary output frames', () => {
  const payloads = [
    Buffer.alloc(0),
    Buffer.from([0, 10, 0x7b]),
    randomBytes(300),
    Buffer.from('\n\n{"x":1}\n'),
  ];
  const parts: Buffer[] = [];
  const expected: Item[] = [];
  payloads.forEach((data, i) => {
    const line = `{"type":"ack","req_id":${i}}`;
    parts.push(Buffer.from(`${line}\n`));
    expected.push({ line });
    const offset = 2 ** 40 + i * 1000;
    parts.push(encodeOutputFrame(`session-${i}`, offset, data));
    expected.push({ frame: { sessionId: `session-${i}`, offset, data: data.toString('hex') } });
  });
  parts.push(Buffer.from('{"type":"pong"}\n'));
  expected.push({ line: '{"type":"pong"}' });
  const stream = Buffer.concat(parts);

  it('decodes frames and lines in one chunk', () => {
    expect(decode(stream, [])).toEqual(expected);
  });

  it('decodes them cut at every byte boundary, and in single bytes', () => {
    for (let cut = 1; cut < stream.length; cut++) expect(decode(stream, [cut])).toEqual(expected);
    expect(decode(stream, [...Array(stream.length).keys()].slice(1))).toEqual(expected);
  });

  it('hands a payload within one chunk over as a view, without copying it', () => {
    const data = randomBytes(64 * 1024);
    const chunk = encodeOutputFrame('s', 7, data);
    const [event] = [...new FrameSplitter(1024).push(chunk)];
    const frame = (event as { frame: { data: Buffer } }).frame.data;
    expect(frame.equals(data)).toBe(true);
    expect(frame.buffer).toBe(chunk.buffer);
  });

  it('refuses a frame longer than the protocol allows, once, and reads nothing after it', () => {
    const frame = encodeOutputFrame('s', 0, Buffer.alloc(0));
    frame.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, frame.length - 4);
    const splitter = new FrameSplitter(1024);
    const events = [...splitter.push(Buffer.concat([frame, Buffer.from('{"type":"pong"}\n')]))];
    expect(events).toEqual([{ badFrame: expect.stringContaining('longer than') }]);
    expect([...splitter.push(Buffer.from('{"type":"pong"}\n'))]).toEqual([]);
  });

  it('reads a NUL inside a JSON line as part of the line', () => {
    const stream = Buffer.from('{"a":"x\u0000y"}\n');
    expect(decode(stream, [3])).toEqual([{ line: '{"a":"x\u0000y"}' }]);
  });
});
