/** The find bar of one terminal (Ctrl+Shift+F): Enter finds the next match, Shift+Enter the previous. */
import type { SearchAddon } from '@xterm/addon-search';
import type { Terminal } from '@xterm/xterm';
import { h, icon } from './dom.js';

const DECORATIONS = {
  matchBackground: '#3d4f7a',
  matchOverviewRuler: '#7aa2ff',
  activeMatchBackground: '#c9a227',
  activeMatchColorOverviewRuler: '#c9a227',
};

export class SearchBox {
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly count: HTMLElement;

  constructor(
    private readonly search: SearchAddon,
    private readonly term: Terminal,
    /** The bar opened: a chance to load older output to search. */
    private readonly opened: () => void = () => {},
  ) {
    this.input = h('input.search-input', {
      type: 'search',
      placeholder: 'Find',
      'aria-label': 'find in terminal',
      onkeydown: (event: KeyboardEvent) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          this.find(event.shiftKey ? 'previous' : 'next');
        } else if (event.key === 'Escape') {
          event.preventDefault();
          this.close();
        }
      },
      oninput: () => this.find('next', true),
    });
    this.count = h('span.search-count');
    this.element = h(
      'div.search-box',
      { hidden: true },
      this.input,
      this.count,
      h(
        'button.icon-button',
        { title: 'previous (Shift+Enter)', onclick: () => this.find('previous') },
        icon('up'),
      ),
      h('button.icon-button', { title: 'next (Enter)', onclick: () => this.find('next') }, icon('down')),
      h('button.icon-button', { title: 'close (Esc)', onclick: () => this.close() }, icon('close')),
    );
    search.onDidChangeResults(({ resultIndex, resultCount }) => {
      this.count.textContent = resultCount === 0 ? 'no match' : `${resultIndex + 1}/${resultCount}`;
    });
  }

  open(): void {
    this.element.hidden = false;
    this.opened();
    const selection = this.term.getSelection();
    if (selection && !selection.includes('\n')) this.input.value = selection;
    this.input.focus();
    this.input.select();
  }

  /** The terminal's content was replaced: find the current text again. */
  refresh(): void {
    if (!this.element.hidden && this.input.value) this.find('next', true);
  }

  close(): void {
    this.element.hidden = true;
    this.search.clearDecorations();
    this.count.textContent = '';
    this.term.focus();
  }

  private find(direction: 'next' | 'previous', incremental = false): void {
    const term = this.input.value;
    if (!term) {
      this.search.clearDecorations();
      this.count.textContent = '';
      return;
    }
    const options = { decorations: DECORATIONS, incremental };
    if (direction === 'next') this.search.findNext(term, options);
    else this.search.findPrevious(term, options);
  }
}
