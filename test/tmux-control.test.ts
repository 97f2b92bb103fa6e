/**
 * The tmux control-mode parser on a real transcript (test/fixtures/tmux/record.mjs recorded it from
 * tmux 3.3a: a pane printing every byte value 1..255 raw, answers, an error, a capture), and argument
 * quoting against a real tmux parser: no value can break out of its argument.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import { ControlParser, decodeOctal, TmuxControl, tmuxQuote } from '../dist/substrates/tmux/control.js';

const transcript = readFileSync(new URL('./fixtures/tmux/transcript.bin', import.meta.url));
const everyByte = Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1));

function parseAll(chunks: Buffer[]) {
  const parser = new ControlParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe('control-mode parser', () => {
  it('decodes pane output to the exact bytes, matches blocks, sees notifications', () => {
    const events = parseAll([transcript]);
    const output = Buffer.concat(events.flatMap((e) => (e.type === 'output' ? [e.data] : [])));
    expect(output.equals(everyByte)).toBe(true);
    const blocks = events.filter((e) => e.type === 'block');
    expect(blocks.map((b) => [b.fromClient, b.error])).toEqual([
      [false, false],
      [true, false],
      [true, false],
      [true, false],
      [true, true],
      [true, false],
      [true, false],
      [true, false],
    ]);
    const texts = blocks.map((b) => Buffer.concat(b.lines).toString('latin1'));
    expect(texts[2]).toMatch(/^@\d+ %\d+$/);
    expect(texts[3]).toBe('1 3');
    expect(texts[4]).toContain('unknown command: no-such-command');
    const names = events.flatMap((e) => (e.type === 'notification' ? [e.name] : []));
    expect(names).toContain('window-add');
    expect(names).toContain('sessions-changed');
    expect(names.at(-1)).toBe('exit');
  });

  it('gives the same events fed one byte at a time', () => {
    const whole = parseAll([transcript]);
    const bytewise = parseAll([...transcript].map((b) => Buffer.from([b])));
    expect(bytewise).toEqual(whole);
  });

  it('ends a block only at its own %end, even when an output line looks like one', () => {
    const parser = new ControlParser();
    const events = parser.push(
      Buffer.from(
        '%begin 1 5 1\n%end 1 4 1\n%output %9 not-a-notification\n%end 1 5 1\n%output %2 a\\134b\n',
      ),
    );
    expect(events[0]).toMatchObject({ type: 'block', error: false });
    expect(events[0]!.type === 'block' && events[0]!.lines.map(String)).toEqual([
      '%end 1 4 1',
      '%output %9 not-a-notification',
    ]);
    expect(events[1]).toMatchObject({ type: 'output', pane: '%2', data: Buffer.from('a\\b') });
  });

  it('decodes octal escapes and leaves other bytes as they are', () => {
    const raw = Buffer.from([0x5c, 0x30, 0x33, 0x33, 0xc3, 0xa9, 0x5c, 0x31, 0x33, 0x34, 0x41, 0x5c]);
    expect([...decodeOctal(raw)]).toEqual([0x1b, 0xc3, 0xa9, 0x5c, 0x41, 0x5c]);
  });
});

describe('argument quoting through a real tmux', () => {
  const socket = `tower-test-${randomBytes(4).toString('hex')}`;
  const box = new LocalBox();
  let control: TmuxControl;

  afterAll(() => {
    control?.close();
    try {
      execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {}
    // tmux leaves its socket file behind a killed server.
    rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.()}`, socket), { force: true });
  });

  it('passes any value through as one argument, nothing expanded or run', async () => {
    control = await TmuxControl.start(box, { socket });
    const hostile = [
      'plain',
      'a "quoted" ; kill-server ; "',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style variable, on purpose
      "it's $HOME and ${HOME} and ~ and ~root",
      'back\\slash \\n \\033 and #{pane_id} #(echo pwned)',
      'new\nline\ttab\x01\x7f and é 😀',
      '',
      ' spaces ',
    ];
    for (const value of hostile) {
      await control.command(`set-option -g @tower_probe ${tmuxQuote(value)}`);
      const answer = await control.command('show-options -gv @tower_probe');
      // show-options prints the value as stored (a control byte would come back escaped by tmux).
      const stored = answer.text().join('\n');
      if (/[\x00-\x1f\x7f]/.test(value)) expect(stored).toContain('and é 😀');
      else expect(stored).toBe(value);
    }
    expect(control.closed).toBeNull();
  });
});
