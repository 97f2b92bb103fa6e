/** Reads a runtime's state off its screen text with the patterns it declares as data. */
import type { AgentState } from '../protocol/index.js';
import type { RuntimeSpec } from './spec.js';

export interface ScreenReading {
  state: Extract<AgentState, 'needs_input' | 'busy' | 'idle'>;
  /** The screen line that matched. */
  line: string;
}

export interface CompiledPatterns {
  needs_input: RegExp[];
  busy: RegExp[];
  idle: RegExp[];
}

export function compilePatterns(status: RuntimeSpec['status']): CompiledPatterns {
  const compile = (sources: string[]) => sources.map((source) => new RegExp(source, 'm'));
  return { needs_input: compile(status.needs_input), busy: compile(status.busy), idle: compile(status.idle) };
}

/** A dialog outranks a spinner, which outranks an empty prompt; null when nothing matches. */
export function readScreen(text: string, patterns: CompiledPatterns): ScreenReading | null {
  for (const state of ['needs_input', 'busy', 'idle'] as const) {
    for (const pattern of patterns[state]) {
      const match = pattern.exec(text);
      if (match) return { state, line: lineAt(text, match.index) };
    }
  }
  return null;
}

function lineAt(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index) + 1;
  const end = text.indexOf('\n', index);
  return text.slice(start, end === -1 ? undefined : end).trim();
}

/** The last line that looks like content rather than the runtime's own chrome: an excerpt for a notification. */
export function lastContentLine(text: string, patterns: CompiledPatterns): string {
  const lines = text.split('\n').map((line) => line.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!/[\p{L}\p{N}]/u.test(line)) continue;
    if ([...patterns.idle, ...patterns.busy].some((pattern) => pattern.test(line))) continue;
    return line.replace(/^[│|┃]\s*|\s*[│|┃]$/g, '').slice(0, 200);
  }
  return '';
}
