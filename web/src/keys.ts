/**
 * Keys typed into a session from outside its terminal (the key bar, Approve and Deny, the composer
 * while an agent asks), through POST /api/sessions/:id/input: one request at a time, in order, with a
 * bounded backlog. They never take the session's size, unlike typing into a terminal.
 */
import { api } from './api.js';
import { sessionTitle } from './status-badge.js';
import type { Store } from './store.js';

/** Keys waiting to be sent; past this, a key is refused with a message rather than queued. */
const MAX_PENDING = 64;

export class KeyInput {
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly store: Store,
    private readonly onError: (message: string) => void,
  ) {}

  /** Type `data` into the session after whatever was sent before; resolves to whether it went. */
  send(sessionId: string, data: string): Promise<boolean> {
    if (this.pending >= MAX_PENDING) {
      this.onError(`${MAX_PENDING} keys are still on their way; wait for them before typing more.`);
      return Promise.resolve(false);
    }
    this.pending++;
    const sent = this.chain
      .then(() => api.input(sessionId, data))
      .then(
        () => true,
        (error: Error) => {
          const title = sessionTitle(this.store.sessions.get(sessionId), sessionId);
          this.onError(`Could not type into ${title}: ${error.message}`);
          return false;
        },
      )
      .finally(() => {
        this.pending--;
      });
    this.chain = sent;
    return sent;
  }

  /** Send the runtime's approve or deny keys, if it has them. */
  answer(sessionId: string, answer: 'approve' | 'deny'): void {
    const keys = this.store.answers(sessionId);
    if (keys) void this.send(sessionId, keys[answer]);
  }
}

/** What a terminal sends for Ctrl with this key: Ctrl-C is \x03, Ctrl-[ is Esc; others are unchanged. */
export function withCtrl(key: string): string {
  if (key.length !== 1) return key;
  const code = key.toUpperCase().charCodeAt(0);
  if (code >= 0x40 && code <= 0x5f) return String.fromCharCode(code & 0x1f);
  if (key === ' ') return '\x00';
  if (key === '?') return '\x7f';
  return key;
}

export type Arrow = 'up' | 'down' | 'right' | 'left';
const ARROW_FINAL: Record<Arrow, string> = { up: 'A', down: 'B', right: 'C', left: 'D' };

/**
 * An arrow key as a terminal sends it: ESC [ A, or ESC O A when the program asked for application
 * cursor keys; with Ctrl, ESC [ 1 ; 5 A.
 */
export function arrowKey(arrow: Arrow, options: { ctrl: boolean; application: boolean }): string {
  const final = ARROW_FINAL[arrow];
  if (options.ctrl) return `\x1b[1;5${final}`;
  return options.application ? `\x1bO${final}` : `\x1b[${final}`;
}
