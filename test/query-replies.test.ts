/** attach drops the local terminal's answers to queries, and only those. */
import { describe, expect, it } from 'vitest';
import { QueryReplyFilter } from '../dist/cli/query-replies.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const text = (buffer: Buffer) => buffer.toString('latin1');

describe('QueryReplyFilter', () => {
  it('passes keys that look like replies when nothing was asked (Shift-F3, Ctrl-F3)', () => {
    const filter = new QueryReplyFilter();
    expect(text(filter.filterInput(b('\x1b[1;2R\x1b[1;5Rx')))).toBe('\x1b[1;2R\x1b[1;5Rx');
  });

  it('drops one cursor position reply per query, then lets the next one through', () => {
    const filter = new QueryReplyFilter();
    filter.sawOutput(b('hello\x1b[6n'));
    expect(text(filter.filterInput(b('a\x1b[12;40Rb')))).toBe('ab');
    expect(text(filter.filterInput(b('\x1b[1;2R')))).toBe('\x1b[1;2R');
  });

  it('drops device attribute replies, DA1 and DA2', () => {
    const filter = new QueryReplyFilter();
    filter.sawOutput(b('\x1b[c\x1b[>c'));
    expect(text(filter.filterInput(b('\x1b[?1;2c\x1b[>0;276;0ctyped')))).toBe('typed');
  });

  it('sees a query split across two output chunks, once', () => {
    const filter = new QueryReplyFilter();
    filter.sawOutput(b('abc\x1b['));
    filter.sawOutput(b('6nmore output'));
    expect(text(filter.filterInput(b('\x1b[3;3R\x1b[4;4R')))).toBe('\x1b[4;4R');
  });

  it('does not count a query twice when it sits in the carried tail', () => {
    const filter = new QueryReplyFilter();
    filter.sawOutput(b('x\x1b[6n'));
    filter.sawOutput(b('y'));
    expect(text(filter.filterInput(b('\x1b[1;1R\x1b[2;2R')))).toBe('\x1b[2;2R');
  });
});
