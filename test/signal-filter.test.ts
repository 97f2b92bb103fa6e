/**
 * The in-band signal stripper on its own: a signal split at every byte boundary is still taken out
 * whole; what is not a complete, keyed, bounded signal (another key, too long, unterminated, an ESC
 * that is not ST) is output, byte for byte; nothing is held past the bound.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SIGNAL_BODY_BYTES, signalPrefix } from '../dist/protocol/inband-signal.js';
import { SignalFilter, SignalTap } from '../dist/sessions/signal-filter.js';

const KEY = '0123456789abcdef0123456789abcdef';
const BODY = '{"source":"claude","event":"Stop","payload":{"last_assistant_message":"héllo \\u001b"}}';
const BEL_SIGNAL = `${signalPrefix(KEY)}${BODY}\x07`;
const ST_SIGNAL = `${signalPrefix(KEY)}${BODY}\x1b\\`;

/** Feeds the chunks, then gives up on what is held (as the session does at exit). */
function run(chunks: Array<string | Buffer>) {
  const filter = new SignalFilter(KEY);
  const output: Buffer[] = [];
  const signals: string[] = [];
  for (const chunk of chunks) {
    const result = filter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    output.push(result.output);
    signals.push(...result.signals.map((signal) => signal.toString()));
  }
  const heldAtEnd = filter.holding;
  output.push(filter.release());
  return { output: Buffer.concat(output).toString(), signals, heldAtEnd };
}

/** Every way of cutting `text` in two, and one byte at a time. */
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text);
  const cuts: Buffer[][] = [];
  for (let at = 0; at <= bytes.length; at++) cuts.push([bytes.subarray(0, at), bytes.subarray(at)]);
  cuts.push([...bytes].map((byte) => Buffer.from([byte])));
  return cuts;
}

describe('SignalFilter', () => {
  for (const [name, signal] of [
    ['BEL', BEL_SIGNAL],
    ['ST', ST_SIGNAL],
  ] as const) {
    it(`takes out a signal ended by ${name}, split at every byte boundary, output around it intact`, () => {
      const stream = `before\x1b]0;title\x07${signal}after\x1b]7;file:///x\x07`;
      for (const chunks of splits(stream)) {
        const result = run(chunks);
        expect(result.output).toBe('before\x1b]0;title\x07after\x1b]7;file:///x\x07');
        expect(result.signals).toEqual([BODY]);
        expect(result.heldAtEnd).toBe(false);
      }
    });
  }

  it('takes out signals back to back and interleaved with output, in order', () => {
    const other = BODY.replace('Stop', 'PreToolUse');
    const stream = `a${BEL_SIGNAL}${signalPrefix(KEY)}${other}\x1b\\b\r\n${BEL_SIGNAL}c`;
    for (const chunks of splits(stream)) {
      const result = run(chunks);
      expect(result.output).toBe('ab\r\nc');
      expect(result.signals).toEqual([BODY, other, BODY]);
    }
  });

  it('leaves a sequence with another key (or none) in the output', () => {
    const spoofed = `x${signalPrefix('f'.repeat(32))}${BODY}\x07\x1b]7717;${BODY}\x07y`;
    for (const chunks of splits(spoofed)) {
      const result = run(chunks);
      expect(result.output).toBe(spoofed);
      expect(result.signals).toEqual([]);
      expect(result.heldAtEnd).toBe(false);
    }
  });

  it('leaves a sequence whose body holds an ESC that is not ST in the output, and finds the next one', () => {
    const broken = `${signalPrefix(KEY)}{"event":"\x1b[31mStop"}\x07`;
    const result = run([`${broken}mid${BEL_SIGNAL}end`]);
    expect(result.output).toBe(`${broken}midend`);
    expect(result.signals).toEqual([BODY]);
  });

  it('takes a body of exactly the bound; one byte more is output, and nothing is held past the bound', () => {
    const fits = `${signalPrefix(KEY)}${'x'.repeat(MAX_SIGNAL_BODY_BYTES)}\x07`;
    expect(run([fits]).signals).toEqual(['x'.repeat(MAX_SIGNAL_BODY_BYTES)]);
    const over = `${signalPrefix(KEY)}${'x'.repeat(MAX_SIGNAL_BODY_BYTES + 1)}\x07tail`;
    expect(run([over])).toMatchObject({ output: over, signals: [] });
    // Fed 1 KiB at a time with no terminator: held only while it could still be a signal.
    const filter = new SignalFilter(KEY);
    let out = filter.push(Buffer.from(signalPrefix(KEY))).output.length;
    let held = 0;
    for (let i = 0; i < 20; i++) {
      out += filter.push(Buffer.alloc(1024, 0x78)).output.length;
      held = Math.max(held, filter.holding ? signalPrefix(KEY).length + (i + 1) * 1024 - out : 0);
    }
    expect(filter.holding).toBe(false);
    expect(out).toBe(signalPrefix(KEY).length + 20 * 1024);
    expect(held).toBeLessThanOrEqual(signalPrefix(KEY).length + MAX_SIGNAL_BODY_BYTES + 1);
  });

  it('holds an unterminated signal, or the start of a prefix, until given up: then it is output', () => {
    const open = run([`text${signalPrefix(KEY)}{"event":"Stop"`]);
    expect(open).toMatchObject({
      output: `text${signalPrefix(KEY)}{"event":"Stop"`,
      signals: [],
      heldAtEnd: true,
    });
    const start = run(['text\x1b]77']);
    expect(start).toMatchObject({ output: 'text\x1b]77', heldAtEnd: true });
    // A start that turns out to be something else goes on with the next read.
    expect(run(['text\x1b]77', '01;x\x07'])).toMatchObject({
      output: 'text\x1b]7701;x\x07',
      heldAtEnd: false,
    });
  });

  it('passes binary output through untouched', () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    const filter = new SignalFilter(KEY);
    const result = filter.push(bytes);
    expect(Buffer.concat([result.output, filter.release()]).equals(bytes)).toBe(true);
  });

  it("a session's tap gives up on what it holds after a moment, and hands the rest on in order", async () => {
    const got: string[] = [];
    const tap = new SignalTap(KEY, {
      output: (chunk) => got.push(`out:${chunk.toString()}`),
      signals: (bodies) => got.push(...bodies.map((body) => `signal:${body.toString()}`)),
      problem: (message) => got.push(`problem:${message}`),
    });
    tap.push(Buffer.from(`a${BEL_SIGNAL}b${signalPrefix(KEY)}{"never":`));
    expect(got).toEqual(['out:ab', `signal:${BODY}`]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got).toEqual(['out:ab', `signal:${BODY}`, `out:${signalPrefix(KEY)}{"never":`]);
    tap.push(Buffer.from('"ended"}\x07c'));
    expect(got[got.length - 1]).toBe('out:"ended"}\x07c');
  });
});
