/**
 * Bootstrap, in the "New session" dialog, for a substrate on a box (ssh, docker): its bootstrap in a few
 * words, and a button that runs it, showing a line per phase as it happens (state, name, elapsed, what
 * it found) read from POST /api/substrates/:name/bootstrap's server-sent events. Everything from the
 * box is shown as text, never as markup.
 */
import { ApiError, api } from './api.js';
import { h } from './dom.js';
import type { BootstrapStreamEvent, SubstrateInfo } from './types.js';

const ICONS: Record<string, string> = { done: '✓', failed: '✗', skipped: '–', running: '…', pending: '·' };

export class BootstrapPanel {
  readonly element: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly button: HTMLButtonElement;
  private readonly phases: HTMLOListElement;
  private readonly rows = new Map<string, HTMLElement>();
  private substrate: SubstrateInfo | undefined;
  private running = false;
  /** The summary shows how the last run here ended, until another substrate is chosen. */
  private ranHere = false;

  constructor(private readonly onFinished: () => void) {
    this.summary = h('span.bootstrap-summary');
    this.button = h(
      'button.bootstrap-button',
      { type: 'button', onclick: () => void this.run() },
      'Bootstrap',
    );
    this.phases = h('ol.bootstrap-phases', { 'aria-label': 'bootstrap phases', 'aria-live': 'polite' });
    this.element = h(
      'div.bootstrap-panel',
      { hidden: true },
      h('div.bootstrap-head', null, this.summary, this.button),
      this.phases,
    );
  }

  /** Shown for a substrate on a box; the phases of an earlier run stay until another substrate is chosen. */
  show(substrate: SubstrateInfo | undefined): void {
    if (substrate?.name !== this.substrate?.name) {
      this.phases.replaceChildren();
      this.rows.clear();
      this.ranHere = false;
    }
    this.substrate = substrate;
    this.element.hidden = !substrate || substrate.bootstrap === null;
    if (!this.ranHere && !this.running)
      this.summary.textContent = substrate?.bootstrap ? `Bootstrap: ${substrate.bootstrap}` : '';
    this.button.disabled = this.running;
  }

  private async run(): Promise<void> {
    const substrate = this.substrate;
    if (!substrate || this.running) return;
    this.running = true;
    this.ranHere = true;
    this.button.disabled = true;
    this.phases.replaceChildren();
    this.rows.clear();
    this.summary.textContent = 'Bootstrap: running…';
    try {
      await api.bootstrap(substrate.name, (event) => this.event(event));
    } catch (error) {
      this.summary.textContent = `Bootstrap: ${error instanceof ApiError ? error.message : String(error)}`;
    } finally {
      this.running = false;
      this.button.disabled = false;
      this.onFinished();
    }
  }

  private event(event: BootstrapStreamEvent): void {
    switch (event.type) {
      case 'phase': {
        const elapsed = event.elapsed_ms === undefined ? '' : `${(event.elapsed_ms / 1000).toFixed(1)} s`;
        const row = h(
          'li.bootstrap-phase',
          { dataset: { phase: event.name, state: event.state } },
          h('span.phase-icon', { 'aria-hidden': 'true' }, ICONS[event.state] ?? '?'),
          h('span.phase-name', null, event.name),
          h('span.phase-elapsed', null, elapsed),
          h('span.phase-message', null, event.message ?? ''),
        );
        const old = this.rows.get(event.name);
        if (old) old.replaceWith(row);
        else this.phases.append(row);
        this.rows.set(event.name, row);
        return;
      }
      case 'output':
        this.rows.get(event.phase)?.setAttribute('title', event.line);
        return;
      case 'result':
        this.summary.textContent = `Bootstrap: ${event.state.summary}`;
        return;
      case 'error':
        this.summary.textContent = `Bootstrap: ${event.message}`;
        return;
    }
  }
}
