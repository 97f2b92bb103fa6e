/**
 * The keys a phone keyboard lacks, typed into the focused session: Esc, Tab, Ctrl, the arrows,
 * Enter, y / n and 1 / 2 / 3 (the answers agents' dialogs take). Shown on touch and narrow screens.
 * Ctrl is sticky: it holds for the next key, from the bar or from the phone's own keyboard, which
 * then goes to the session instead of the field that has the focus. The buttons never take the focus,
 * so the phone's keyboard stays up.
 */
import { h } from './dom.js';
import { type Arrow, arrowKey, type KeyInput, withCtrl } from './keys.js';
import type { Store } from './store.js';

type BarKey = { label: string; name: string } & ({ data: string } | { arrow: Arrow });

const KEYS: BarKey[] = [
  { label: 'Esc', name: 'Esc', data: '\x1b' },
  { label: 'Tab', name: 'Tab', data: '\t' },
  { label: '←', name: 'Left', arrow: 'left' },
  { label: '↑', name: 'Up', arrow: 'up' },
  { label: '↓', name: 'Down', arrow: 'down' },
  { label: '→', name: 'Right', arrow: 'right' },
  { label: '⏎', name: 'Enter', data: '\r' },
  ...['y', 'n', '1', '2', '3'].map((key) => ({ label: key, name: key, data: key })),
];

export class KeyBar {
  readonly element: HTMLElement;
  private readonly ctrl: HTMLButtonElement;
  private ctrlHeld = false;

  constructor(
    private readonly store: Store,
    private readonly input: KeyInput,
    /** Whether the session's program asked for application cursor keys (ESC O A for ↑). */
    private readonly applicationCursor: (sessionId: string) => boolean,
  ) {
    this.ctrl = this.button('Ctrl', 'Ctrl (held for the next key)', () => this.holdCtrl(!this.ctrlHeld));
    this.ctrl.setAttribute('aria-pressed', 'false');
    const [first, second, ...rest] = KEYS.map((key) =>
      this.button(key.label, key.name, () => this.press(key), key.name),
    );
    this.element = h(
      'div.key-bar',
      { role: 'toolbar', 'aria-label': 'keys for the focused session' },
      first,
      second,
      this.ctrl,
      ...rest,
    );
    // Captured, before the focused field (the composer, a terminal) sees the key.
    document.addEventListener('keydown', (event) => this.keyWithCtrl(event, event.key), true);
    // Phone keyboards often report keydown as "Unidentified": the text arrives as input instead.
    document.addEventListener('beforeinput', (event) => this.keyWithCtrl(event, event.data ?? ''), true);
    store.subscribe(() => this.render());
    this.render();
  }

  private button(label: string, title: string, action: () => void, name = label): HTMLButtonElement {
    return h(
      'button.key',
      {
        type: 'button',
        title,
        'aria-label': name,
        // Keep the focus (and the phone's keyboard) where it is.
        onmousedown: (event: Event) => event.preventDefault(),
        onclick: action,
      },
      label,
    );
  }

  /** The session the keys go to: the focused one, while it runs. */
  private get target(): string | null {
    const id = this.store.focused;
    return id !== null && this.store.sessions.get(id)?.status === 'running' ? id : null;
  }

  private render(): void {
    this.element.hidden = !this.store.canControl || this.target === null;
    if (this.element.hidden) this.holdCtrl(false);
  }

  private holdCtrl(held: boolean): void {
    this.ctrlHeld = held;
    this.ctrl.setAttribute('aria-pressed', String(held));
  }

  private press(key: BarKey): void {
    const target = this.target;
    if (target === null) return;
    const ctrl = this.ctrlHeld;
    const data =
      'arrow' in key
        ? arrowKey(key.arrow, { ctrl, application: this.applicationCursor(target) })
        : ctrl
          ? withCtrl(key.data)
          : key.data;
    this.type(data);
  }

  private keyWithCtrl(event: Event, text: string): void {
    if (!this.ctrlHeld || [...text].length !== 1) return;
    if (event instanceof KeyboardEvent && (event.isComposing || event.altKey || event.metaKey)) return;
    event.preventDefault();
    event.stopPropagation();
    this.type(withCtrl(text));
  }

  private type(data: string): void {
    this.holdCtrl(false);
    const target = this.target;
    if (target !== null) void this.input.send(target, data);
  }
}
