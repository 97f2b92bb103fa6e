/**
 * Approve and Deny for an agent that asks (in the inbox and the pane header): each types the keys its
 * runtime answers a dialog with (Claude Code 1 / Esc, Codex y / Esc, …; RuntimeInfo.answers).
 */
import { h } from './dom.js';
import type { KeyInput } from './keys.js';
import type { AnswerKeys } from './types.js';

/** Printable names for the keys in a tooltip. */
function keyNames(keys: string): string {
  return [...keys]
    .map((ch) => {
      if (ch === '\r') return 'Enter';
      if (ch === '\x1b') return 'Esc';
      if (ch === '\t') return 'Tab';
      return ch < ' ' ? `Ctrl-${String.fromCharCode(ch.charCodeAt(0) + 64)}` : ch;
    })
    .join(' ');
}

export function answerButtons(sessionId: string, keys: AnswerKeys, input: KeyInput): HTMLElement {
  const button = (answer: 'approve' | 'deny', label: string) =>
    h(
      `button.answer-button.answer-${answer}`,
      {
        type: 'button',
        title: `${label}: types ${keyNames(keys[answer])} into the session`,
        onclick: (event: Event) => {
          // Inside an inbox entry, whose own click opens the session.
          event.stopPropagation();
          input.answer(sessionId, answer);
        },
      },
      label,
    );
  return h('span.answer-buttons', null, button('approve', 'Approve'), button('deny', 'Deny'));
}
