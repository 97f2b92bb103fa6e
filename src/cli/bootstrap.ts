/**
 * `tower substrates bootstrap NAME`: a line per phase as it happens (`  ✓ check     0.4 s  …`), the
 * phase's output with --verbose or, when it failed, its last lines; the outcome last. On a terminal the
 * phase under way shows until it ends; elsewhere only finished phases are printed. Everything from the
 * box is escaped before it reaches the terminal.
 */
import type { BootstrapEvent, BootstrapState } from '../protocol/index.js';
import { escapeControls } from './escape.js';

const ICONS: Record<string, string> = { done: '✓', failed: '✗', skipped: '–', running: '…', pending: ' ' };
const TAIL_LINES = 10;

export class BootstrapProgress {
  private readonly output = new Map<string, string[]>();
  /** A phase under way is shown on the terminal's current line, to be replaced when it ends. */
  private showing = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly options: { tty: boolean; verbose: boolean },
  ) {}

  event(event: BootstrapEvent): void {
    if (event.type === 'output') {
      const lines = this.output.get(event.phase) ?? [];
      lines.push(event.line);
      if (lines.length > TAIL_LINES) lines.shift();
      this.output.set(event.phase, lines);
      if (this.options.verbose) this.line(`      ${escapeControls(event.line)}`);
      return;
    }
    if (event.state === 'running') {
      this.output.delete(event.name);
      const text = `  ${ICONS.running} ${event.name}`;
      if (this.options.verbose) this.line(text);
      else if (this.options.tty) {
        this.write(text);
        this.showing = true;
      }
      return;
    }
    this.line(phaseLine(event));
    if (event.state === 'failed' && !this.options.verbose)
      for (const line of this.output.get(event.name) ?? []) this.line(`      | ${escapeControls(line)}`);
  }

  result(state: BootstrapState, joined: boolean): void {
    if (joined) this.line('  (joined a bootstrap already under way)');
    for (const warning of state.warnings) this.line(`  ! ${escapeControls(warning)}`);
    const host = state.session_host ? `; sessions kept by ${state.session_host}` : '';
    this.line(
      `${state.substrate}: ${escapeControls(state.summary)}${state.outcome === 'failed' ? '' : host}`,
    );
  }

  private line(text: string): void {
    this.write(`${this.showing ? '\r\x1b[K' : ''}${text}\n`);
    this.showing = false;
  }
}

function phaseLine(event: Extract<BootstrapEvent, { type: 'phase' }>): string {
  const elapsed = event.elapsed_ms === undefined ? '' : `${(event.elapsed_ms / 1000).toFixed(1)} s`;
  const note = event.state === 'failed' && event.kind === 'best-effort' ? ' (best-effort)' : '';
  const message = escapeControls(event.message ?? '') + note;
  return `  ${ICONS[event.state] ?? '?'} ${event.name.padEnd(9)}${elapsed.padStart(7)}  ${message}`.trimEnd();
}
