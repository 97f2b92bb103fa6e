/** Reads a runtime's state and its input line off its screen text with the patterns it declares as data. */
import type { AgentState } from '../protocol/index.js';
import type { RuntimeSpec } from './spec.js';

export interface ScreenReading {
  state: Extract<AgentState, 'needs_input' | 'busy' | 'idle'>;
  /** The screen line that matched; for a dialog, what it asks when an `ask` pattern says. */
  line: string;
}

export interface CompiledPatterns {
  needs_input: RegExp[];
  busy: RegExp[];
  idle: RegExp[];
  answer: RegExp[];
  ask: RegExp[];
}

export function compilePatterns(status: RuntimeSpec['status']): CompiledPatterns {
  const compile = (sources: string[]) => sources.map((source) => new RegExp(source, 'm'));
  return {
    needs_input: compile(status.needs_input),
    busy: compile(status.busy),
    idle: compile(status.idle),
    answer: compile(status.answer),
    ask: compile(status.ask),
  };
}

/** A dialog outranks a spinner, which outranks an empty prompt; null when nothing matches. */
export function readScreen(text: string, patterns: CompiledPatterns): ScreenReading | null {
  for (const state of ['needs_input', 'busy', 'idle'] as const) {
    for (const pattern of patterns[state]) {
      const match = pattern.exec(text);
      if (!match) continue;
      // A pattern may start with blanks (`^\s*`) that run over the empty lines above its own.
      const line = lineAt(text, match.index + match[0].length - match[0].trimStart().length);
      return { state, line: (state === 'needs_input' && askedIn(text, patterns)) || line };
    }
  }
  return null;
}

export interface InputPatterns {
  line: RegExp[];
  placeholder: RegExp[];
}

export function compileInputPatterns(prompt: RuntimeSpec['prompt']): InputPatterns {
  return {
    line: prompt.input_line.map((source) => new RegExp(source, 'gm')),
    placeholder: prompt.placeholder.map((source) => new RegExp(source)),
  };
}

/**
 * What the input line holds: '' when it is empty or shows a placeholder, null when no pattern finds
 * it. The last match counts: earlier prompts stay on screen above the input line.
 */
export function readInputLine(text: string, patterns: InputPatterns): string | null {
  let last: RegExpExecArray | null = null;
  for (const pattern of patterns.line) {
    for (const match of text.matchAll(pattern)) {
      if (!last || match.index >= last.index) last = match;
    }
  }
  if (!last) return null;
  const held = (last[1] ?? '').trim();
  return patterns.placeholder.some((pattern) => pattern.test(held)) ? '' : held;
}

/** What the dialog on screen asks (the capture groups of the first `ask` pattern that matches), or null. */
export function askedIn(text: string, patterns: CompiledPatterns): string | null {
  for (const pattern of patterns.ask) {
    const match = pattern.exec(text);
    if (!match) continue;
    const parts = match
      .slice(1)
      .filter((part) => part !== undefined)
      .map(cleanLine)
      .filter(Boolean);
    const asked = (parts.length > 0 ? parts : [cleanLine(match[0])]).join(': ');
    if (asked) return asked.slice(0, 200);
  }
  return null;
}

function lineAt(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index) + 1;
  const end = text.indexOf('\n', index);
  return cleanLine(text.slice(start, end === -1 ? undefined : end));
}

/** A screen line as one line of prose: no box borders, no column padding. */
function cleanLine(line: string): string {
  return line
    .replace(/^[\s│┃|╭╮╰╯]+|[\s│┃|╭╮╰╯]+$/g, '')
    .replace(/\s{3,}/g, '  ')
    .slice(0, 200);
}

/**
 * An excerpt for a notification: the last answer line the runtime's patterns recognise, else the
 * last line that looks like content rather than the runtime's own chrome.
 */
export function lastContentLine(text: string, patterns: CompiledPatterns): string {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0 && patterns.answer.length > 0; i--) {
    for (const pattern of patterns.answer) {
      const match = pattern.exec(lines[i]!);
      if (match) return cleanLine(match[1] ?? match[0]);
    }
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = cleanLine(lines[i]!);
    if (!/[\p{L}\p{N}]/u.test(line)) continue;
    if ([...patterns.idle, ...patterns.busy].some((pattern) => pattern.test(line))) continue;
    return line;
  }
  return '';
}
