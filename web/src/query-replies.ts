/**
 * The daemon's screen model answers a program's terminal queries (DA, cursor position, mode and
 * version reports…); a browser terminal must not answer as well, or the program reads two replies.
 *
 * xterm.js answers in its parser, so the queries are swallowed there: a custom handler that returns
 * true stops xterm's own. As a second line, a DA or CPR reply that still shows up in onData within
 * a moment of a query is dropped; the same bytes at any other time are keys (Shift-F3 is
 * `ESC [ 1 ; 2 R`, exactly like a cursor position report) and pass.
 */
import type { IDisposable, Terminal } from '@xterm/xterm';

const REPLY = /^(?:\x1b\[[?>][\d;]*c|\x1b\[\??\d+;\d+R)$/;
const QUERY_WINDOW_MS = 2000;

export class QueryReplies {
  private lastQueryAt = Number.NEGATIVE_INFINITY;
  private readonly hooks: IDisposable[];

  constructor(term: Terminal) {
    const swallow = () => {
      this.lastQueryAt = performance.now();
      return true;
    };
    const parser = term.parser;
    this.hooks = [
      parser.registerCsiHandler({ final: 'c' }, swallow), // DA1
      parser.registerCsiHandler({ prefix: '>', final: 'c' }, swallow), // DA2
      parser.registerCsiHandler({ prefix: '=', final: 'c' }, swallow), // DA3
      parser.registerCsiHandler({ final: 'n' }, swallow), // DSR, CPR
      parser.registerCsiHandler({ prefix: '?', final: 'n' }, swallow), // DECDSR, DECXCPR
      parser.registerCsiHandler({ intermediates: '$', final: 'p' }, swallow), // DECRQM (ANSI)
      parser.registerCsiHandler({ prefix: '?', intermediates: '$', final: 'p' }, swallow), // DECRQM
      parser.registerCsiHandler({ prefix: '>', final: 'q' }, swallow), // XTVERSION
      parser.registerCsiHandler({ prefix: '?', final: 'u' }, swallow), // kitty keyboard flags
      parser.registerCsiHandler({ final: 't' }, (params) => {
        // Window manipulation: reports (11, 13, 14, 16, 18, 19, 20, 21) are queries; the rest act.
        const op = params[0];
        return typeof op === 'number' && [11, 13, 14, 16, 18, 19, 20, 21].includes(op) ? swallow() : false;
      }),
      parser.registerDcsHandler({ intermediates: '$', final: 'q' }, swallow), // DECRQSS
      ...[4, 10, 11, 12].map((ident) =>
        parser.registerOscHandler(ident, (data) => (data.split(';').includes('?') ? swallow() : false)),
      ),
    ];
  }

  /** Whether onData `data` is the terminal answering a query (drop it) rather than the user typing. */
  isReply(data: string): boolean {
    return REPLY.test(data) && performance.now() - this.lastQueryAt < QUERY_WINDOW_MS;
  }

  dispose(): void {
    for (const hook of this.hooks) hook.dispose();
  }
}
