// Runs against the compiled output (`npx tsc -p .` first): the host starts dist/terminal/screen-worker.js.

import type { Terminal as HeadlessTerminal } from '@xterm/headless';
import xtermHeadless from '@xterm/headless';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScreenHost } from '../dist/terminal/screen.js';

const { Terminal } = xtermHeadless;
const encoder = new TextEncoder();

let host: ScreenHost;
beforeEach(() => {
  host = new ScreenHost();
});
afterEach(async () => {
  await host.close();
});

/** Writes `chunks` to session `id`, tracking absolute offsets from `start`; returns the end offset. */
function writeAll(id: string, chunks: Array<string | Uint8Array>, start = 0): number {
  let offset = start;
  for (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    offset += bytes.length;
    host.write(id, bytes, offset);
  }
  return offset;
}

function freshTerminal(cols: number, rows: number): HeadlessTerminal {
  return new Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
}

function feed(terminal: HeadlessTerminal, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => terminal.write(data, resolve));
}

function visibleRows(terminal: HeadlessTerminal): string[] {
  const buffer = terminal.buffer.active;
  const rows: string[] = [];
  for (let row = 0; row < terminal.rows; row++) {
    rows.push((buffer.getLine(buffer.baseY + row)?.translateToString(true) ?? '').replace(/ +$/, ''));
  }
  return rows;
}

/** Every line, scrollback included, with each cell's colors and attributes. */
function styledLines(terminal: HeadlessTerminal): string[] {
  const buffer = terminal.buffer.active;
  const cell = buffer.getNullCell();
  const lines: string[] = [];
  for (let y = 0; y < buffer.length; y++) {
    const line = buffer.getLine(y);
    let styled = '';
    for (let x = 0; line && x < terminal.cols; x++) {
      line.getCell(x, cell);
      styled += `${cell.getChars() || ' '}${cell.getFgColorMode()}:${cell.getFgColor()}/${cell.getBgColorMode()}:${cell.getBgColor()}`;
      styled += `${cell.isBold()}${cell.isItalic()}${cell.isUnderline()}${cell.isInverse()}|`;
    }
    lines.push(styled);
  }
  return lines;
}

/** xterm state the public API does not expose. */
function internals(terminal: HeadlessTerminal) {
  type Core = {
    coreMouseService: { activeEncoding: string };
    coreService: { isCursorHidden: boolean; decPrivateModes: Record<string, unknown> };
  };
  return (terminal as unknown as { _core: Core })._core;
}

async function replay(id: string): Promise<HeadlessTerminal> {
  const snapshot = await host.snapshot(id);
  const replica = freshTerminal(snapshot.cols, snapshot.rows);
  await feed(replica, snapshot.data);
  return replica;
}

async function expectReplicaMatches(id: string, replica: HeadlessTerminal): Promise<void> {
  const source = await host.text(id);
  expect(visibleRows(replica).join('\n')).toBe(source.text);
  const replicaCursorX = Math.min(replica.buffer.active.cursorX, replica.cols - 1);
  expect([replicaCursorX, replica.buffer.active.cursorY]).toEqual([source.cursorX, source.cursorY]);
}

const colorfulOutput = (() => {
  const chunks: string[] = [
    '\x1b[1;31mred bold\x1b[0m plain \x1b[38;5;208m256\x1b[48;2;10;20;30mtruecolor\x1b[0m\r\n',
  ];
  for (let i = 0; i < 60; i++) {
    chunks.push(
      `\x1b[3${i % 8}mline ${i}\x1b[4m underlined\x1b[24;7m inverse\x1b[0m ${'x'.repeat(i % 50)}\r\n`,
    );
  }
  chunks.push('wrapping: ' + 'abcdefghij'.repeat(12) + '\r\n');
  chunks.push('\x1b[5;10Hmoved\x1b[2Aup\x1b[3Cright\x1b[10;1H\x1b[K\x1b[3mitalic\x1b[0m tail');
  return chunks;
})();

describe('ScreenHost', () => {
  it('reports plain text and the cursor', async () => {
    host.create('s', 40, 5, 0);
    writeAll('s', ['hello   \r\n', 'world', '\r\n\r\nab']);
    const text = await host.text('s');
    expect(text.text).toBe('hello\nworld\n\nab\n');
    expect([text.cursorX, text.cursorY, text.cols, text.rows]).toEqual([2, 3, 40, 5]);
  });

  it('stamps snapshots with the end offset of the last write', async () => {
    host.create('s', 80, 24, 1000);
    expect((await host.snapshot('s')).offset).toBe(1000);
    const end = writeAll('s', ['one\r\n', 'two\r\n'], 1000);
    expect(end).toBe(1010);
    expect((await host.snapshot('s')).offset).toBe(1010);
    expect((await host.text('s')).offset).toBe(1010);
  });

  it('lets a mid-stream snapshot plus the remaining bytes reproduce the final state', async () => {
    host.create('s', 80, 24, 0);
    const [head, tail] = [colorfulOutput.slice(0, 30), colorfulOutput.slice(30)];
    const middle = writeAll('s', head);
    const snapshot = await host.snapshot('s');
    expect(snapshot.offset).toBe(middle);
    writeAll('s', tail, middle);

    const replica = freshTerminal(snapshot.cols, snapshot.rows);
    await feed(replica, snapshot.data);
    for (const chunk of tail) await feed(replica, chunk);
    await expectReplicaMatches('s', replica);
  });

  it('snapshots reproduce colors, wraps, cursor moves and scrollback', async () => {
    host.create('s', 80, 24, 0);
    writeAll('s', colorfulOutput);
    const replica = await replay('s');
    await expectReplicaMatches('s', replica);

    const reference = freshTerminal(80, 24);
    await feed(reference, colorfulOutput.join(''));
    expect(styledLines(replica)).toEqual(styledLines(reference));
  });

  it('snapshots of a full-screen app keep the alternate screen, scroll region and hidden cursor', async () => {
    host.create('s', 60, 20, 0);
    writeAll('s', ['shell prompt$ vim\r\n', '\x1b[?1049h\x1b[H\x1b[2J\x1b[?25l\x1b[?1h']);
    for (let row = 1; row <= 19; row++) writeAll('s', [`\x1b[${row};1H\x1b[34m~\x1b[0m line ${row}`]);
    writeAll('s', ['\x1b[20;1H\x1b[7m-- INSERT --\x1b[0m', '\x1b[2;19r\x1b[19;5H']);
    const snapshot = await host.snapshot('s');
    expect(snapshot.altScreen).toBe(true);
    const replica = freshTerminal(snapshot.cols, snapshot.rows);
    await feed(replica, snapshot.data);
    await expectReplicaMatches('s', replica);
    expect(replica.buffer.active.type).toBe('alternate');
    expect(internals(replica).coreService.isCursorHidden).toBe(true);
    expect(replica.modes.applicationCursorKeysMode).toBe(true);

    // Scrolling inside the region must move the same rows on both sides.
    const more = '\r\nscrolled 1\r\nscrolled 2\r\nscrolled 3';
    writeAll('s', [more], snapshot.offset);
    await feed(replica, more);
    await expectReplicaMatches('s', replica);

    // Leaving the alternate screen restores the shell on both sides.
    writeAll('s', ['\x1b[r\x1b[?1049l\x1b[?25h']);
    await feed(replica, '\x1b[r\x1b[?1049l\x1b[?25h');
    await expectReplicaMatches('s', replica);
    expect((await host.snapshot('s')).altScreen).toBe(false);
  });

  it('snapshots keep a pending wrap, origin mode, mouse encoding and cursor shape', async () => {
    host.create('s', 40, 10, 0);
    const end = writeAll('s', [
      '\x1b[3;8r\x1b[?6h\x1b[2;4H',
      '\x1b[?1000h\x1b[?1006h\x1b[6 q',
      'y'.repeat(36),
    ]);
    const replica = await replay('s');
    expect(internals(replica).coreMouseService.activeEncoding).toBe('SGR');
    expect(internals(replica).coreService.decPrivateModes).toMatchObject({
      cursorStyle: 'bar',
      cursorBlink: false,
    });
    expect(replica.modes.mouseTrackingMode).toBe('vt200');
    expect(replica.modes.originMode).toBe(true);
    await expectReplicaMatches('s', replica);
    // Writes continue at the same place, relative to the same region, on both sides.
    const more = 'z\x1b[1;1Ho\r\n\r\n\r\n\r\n\r\n\r\n\r\nbottom';
    writeAll('s', [more], end);
    await feed(replica, more);
    await expectReplicaMatches('s', replica);

    host.create('w', 20, 5, 0);
    writeAll('w', ['\x1b[5;1H' + 'w'.repeat(20)]);
    const wrapped = await replay('w');
    writeAll('w', ['next'], 24);
    await feed(wrapped, 'next');
    await expectReplicaMatches('w', wrapped);
  });

  it('answers DA1 and cursor position queries', async () => {
    const replies: Array<[string, string]> = [];
    host.onReply = (id, data) => replies.push([id, data]);
    host.create('s', 80, 24, 0);
    writeAll('s', ['ab\r\ncd', '\x1b[c', '\x1b[6n']);
    await host.text('s');
    expect(replies).toHaveLength(2);
    expect(replies[0]?.[0]).toBe('s');
    expect(replies[0]?.[1]).toMatch(/^\x1b\[\?[\d;]+c$/);
    expect(replies[1]).toEqual(['s', '\x1b[2;3R']);
  });

  it('stays silent on queries when answerQueries is false', async () => {
    const replies: string[] = [];
    host.onReply = (_id, data) => replies.push(data);
    host.create('s', 80, 24, 0, { answerQueries: false });
    writeAll('s', ['\x1b[c\x1b[6n\x1b[5n']);
    await host.text('s');
    expect(replies).toEqual([]);
  });

  it('reports parsing progress up to the last offset', async () => {
    const progress: number[] = [];
    host.onParsed = (id, offset) => {
      if (id === 's') progress.push(offset);
    };
    host.create('s', 80, 24, 0);
    const end = writeAll('s', colorfulOutput);
    await host.text('s');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(progress.at(-1)).toBe(end);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('applies a resize after the bytes written before it', async () => {
    host.create('s', 80, 24, 0);
    writeAll('s', ['x'.repeat(100)]);
    host.resize('s', 120, 30);
    const snapshot = await host.snapshot('s');
    expect([snapshot.cols, snapshot.rows]).toEqual([120, 30]);
    // xterm does not reflow the cursor's line, so the 80-column wrap shows the bytes came first.
    expect((await host.text('s')).text.split('\n').slice(0, 2)).toEqual(['x'.repeat(80), 'x'.repeat(20)]);
    await expectReplicaMatches('s', await replay('s'));
  });

  it('keeps many sessions independent', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `session-${i}`);
    ids.forEach((id, i) => {
      host.create(id, 30 + i, 10, i * 100);
    });
    for (let round = 0; round < 5; round++) {
      ids.forEach((id, i) => {
        host.write(id, encoder.encode(`${id} round ${round}\r\n`), i * 100 + round + 1);
      });
    }
    const texts = await Promise.all(ids.map((id) => host.text(id)));
    texts.forEach((text, i) => {
      const expected = [0, 1, 2, 3, 4].map((round) => `session-${i} round ${round}`).join('\n');
      expect(text.text.startsWith(expected)).toBe(true);
      expect([text.cols, text.offset, text.cursorY]).toEqual([30 + i, i * 100 + 5, 5]);
    });
  });

  it('rejects requests for unknown or disposed sessions and ignores commands for them', async () => {
    await expect(host.snapshot('nope')).rejects.toThrow(/unknown/);
    await expect(host.text('nope')).rejects.toThrow(/unknown/);
    host.write('nope', encoder.encode('x'), 1);
    host.resize('nope', 10, 10);
    host.dispose('nope');

    host.create('s', 80, 24, 0);
    writeAll('s', ['bye']);
    const beforeDispose = host.text('s');
    host.dispose('s');
    expect((await beforeDispose).text.startsWith('bye')).toBe(true);
    await expect(host.text('s')).rejects.toThrow(/unknown/);
  });

  it('decodes a UTF-8 character split across writes', async () => {
    const euro = encoder.encode('€'); // 3 bytes
    host.create('batched', 80, 24, 0);
    writeAll('batched', [euro.subarray(0, 1), euro.subarray(1)]);
    host.create('apart', 80, 24, 0);
    writeAll('apart', [euro.subarray(0, 1)]);
    await host.text('apart');
    writeAll('apart', [euro.subarray(1)], 1);
    for (const id of ['batched', 'apart']) {
      const text = await host.text(id);
      expect(text.text.split('\n')[0]).toBe('€');
      expect(text.cursorX).toBe(1);
    }
  });

  it('copies written bytes so the caller may reuse its buffer', async () => {
    host.create('s', 80, 24, 0);
    const buffer = Buffer.from('first');
    host.write('s', buffer, 5);
    buffer.write('XXXXX');
    expect((await host.text('s')).text.split('\n')[0]).toBe('first');
  });

  it('parses more output than xterm buffers at once without losing any', async () => {
    host.create('s', 80, 24, 0);
    const line = encoder.encode(`${'y'.repeat(78)}\r\n`);
    const block = new Uint8Array(line.length * 10_000);
    for (let i = 0; i < 10_000; i++) block.set(line, i * line.length);
    let end = 0;
    for (let i = 0; i < 70; i++) {
      end += block.length;
      host.write('s', block, end); // 70 × 800 KB = 56 MB, above xterm's 50 MB discard mark
    }
    host.write('s', encoder.encode('done'), end + 4);
    const text = await host.text('s');
    expect(text.offset).toBe(end + 4);
    expect(text.text.split('\n').at(-1)).toBe('done');
  }, 30_000);

  it('snapshots 1000 lines of scrollback quickly', async () => {
    for (const [cols, rows] of [
      [80, 24],
      [200, 50],
    ] as const) {
      const id = `${cols}x${rows}`;
      host.create(id, cols, rows, 0);
      const chunks = Array.from(
        { length: 1500 },
        (_, i) => `\x1b[3${i % 8}m${i}\x1b[0m ${'word \x1b[1mbold\x1b[22m '.repeat(cols / 12)}\r\n`,
      );
      writeAll(id, chunks);
      const times: number[] = [];
      let snapshot = await host.snapshot(id); // the first one also pays for JIT warm-up
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        snapshot = await host.snapshot(id);
        times.push(performance.now() - started);
      }
      const elapsed = times.sort((a, b) => a - b)[2] ?? Infinity;
      console.log(
        `snapshot ${id} with 1000 lines of scrollback: median ${elapsed.toFixed(1)} ms, ${snapshot.data.length} chars`,
      );
      expect(elapsed).toBeLessThan(200); // generous: shared CI machines
      await expectReplicaMatches(id, await replay(id));
    }
  });
});
