/** An xterm.js terminal as the workspace uses it: theme, addons, renderer fallback and shortcut keys. */
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { copyText } from './clipboard.js';
import { type Renderer, useWebgl } from './terminal-renderer.js';

const THEME = {
  background: '#0f131a',
  foreground: '#d8dee9',
  cursor: '#7aa2ff',
  selectionBackground: '#3d4f7a',
  black: '#1c2230',
  brightBlack: '#5c6678',
};

/** Lines the browser terminal keeps: the snapshot's scrollback plus older output loaded on scroll-up. */
const SCROLLBACK_LINES = 10_000;

export interface TerminalParts {
  term: Terminal;
  fit: FitAddon;
  search: SearchAddon;
}

export function createTerminal(options: { narrow: boolean; viewer: boolean }): TerminalParts {
  const term = new Terminal({
    allowProposedApi: true, // unicode 11 widths
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, "Liberation Mono", monospace',
    fontSize: options.narrow ? 11 : 13,
    scrollback: SCROLLBACK_LINES,
    theme: THEME,
    macOptionIsMeta: true,
    rightClickSelectsWord: true,
    disableStdin: options.viewer,
  });
  return { term, fit: new FitAddon(), search: new SearchAddon() };
}

/**
 * Load the addons once the terminal is open. WebGL while the browser has it and it draws, else
 * xterm's DOM renderer (see terminal-renderer.ts). Returns the renderer in use; `fellBack` says
 * when WebGL is dropped later.
 */
export function loadAddons({ term, fit, search }: TerminalParts, fellBack: () => void): Renderer {
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = '11';
  term.loadAddon(fit);
  term.loadAddon(search);
  term.loadAddon(new WebLinksAddon());
  return useWebgl(term, fellBack);
}

/**
 * Ctrl+Shift+F finds, Ctrl+Shift+C copies the selection, Ctrl+Shift+V is left to the browser,
 * which pastes into xterm's textarea (xterm then sends it as input, bracketed if the program asked).
 * For attachCustomKeyEventHandler: false means xterm does not handle the key.
 */
export function shortcutKeys(term: Terminal, openSearch: () => void): (event: KeyboardEvent) => boolean {
  return (event) => {
    if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey || event.altKey || event.metaKey)
      return true;
    switch (event.code) {
      case 'KeyF':
        event.preventDefault();
        openSearch();
        return false;
      case 'KeyC':
        if (term.hasSelection()) {
          event.preventDefault();
          void copyText(term.getSelection());
        }
        return false;
      case 'KeyV':
        return false;
      default:
        return true;
    }
  };
}
