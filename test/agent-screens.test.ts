/**
 * Each built-in runtime's screen patterns (data in src/agents/runtimes/) against screens recorded from
 * the real CLIs (test/fixtures/screens/<runtime>/<state>*.txt, 80x24). The file name says what a
 * person sees; the table below says where the screen alone cannot tell and why. The input line must
 * read empty on every recorded screen (placeholders included) and hold a draft typed into it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_RUNTIMES } from '../dist/agents/registry.js';
import {
  compileInputPatterns,
  compilePatterns,
  lastContentLine,
  readInputLine,
  readScreen,
} from '../dist/agents/screen-patterns.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'screens');

/** What the screen shows for each recorded state. */
const EXPECTED: Record<string, string> = {
  // None of the three has a starting screen: the first paint is already the prompt.
  starting: 'idle',
  idle: 'idle',
  busy: 'busy',
  needs_input: 'needs_input',
  answered: 'idle',
  denied: 'idle',
};

/** What each runtime's recorded approval dialog asks, as the status and the attention event name it. */
const ASKS: Record<string, string> = {
  claude: 'Bash: touch /tmp/x',
  codex: 'run: touch /tmp/x',
  gemini: 'Shell: touch /tmp/x',
  opencode: 'Shell command: touch /tmp/tower-opencode-Gcb1Jt/approved-file',
};

/** Screens that look like another state, and the channel that tells instead. */
const KNOWN_AMBIGUOUS: Record<string, string> = {
  // Codex draws nothing while an answer streams: its OSC 7501 "working" says busy.
  'codex/busy.txt': 'idle',
  'codex/busy-2.txt': 'idle',
};

/**
 * A draft on a recorded idle or answered screen, drawn as each CLI draws typed text (see
 * docs/agents-findings.md, "typing"): it replaces the placeholder or follows the empty prompt mark,
 * and Claude Code and Codex drop their "? for shortcuts" hint.
 */
const DRAFT = 'half typed';
const WITH_DRAFT: Record<string, (screen: string) => string> = {
  claude: (s) => s.replace(/^❯[ \u00a0]*$/m, `❯ ${DRAFT}`).replace('? for shortcuts', '               '),
  codex: (s) => s.replace(/^› Ask Codex to do anything$/m, `› ${DRAFT}`).replace('? for shortcuts', ''),
  gemini: (s) => s.replace(/^ > {3}Type your message or @path\/to\/file$/m, ` > ${DRAFT}`),
  opencode: (s) =>
    s
      .replace(/┃ {2}Ask anything… .*$/m, `┃  ${DRAFT}`)
      .replace(/┃\n(\s*┃\n\s*┃ {2}Build)/, `┃  ${DRAFT}\n$1`),
};

/** Tower's screen text: visible rows with trailing spaces trimmed. */
const screenText = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');

describe('a dialog without an ask pattern', () => {
  it('is named by its own line, not the blank line its pattern starts on (Claude Code editing a file)', () => {
    const claude = BUILT_IN_RUNTIMES.find((candidate) => candidate.name === 'claude')!;
    const text = '● Update(parser.ts)\n\n\n Do you want to make this edit to parser.ts?\n ❯ 1. Yes\n   2. No';
    expect(readScreen(text, compilePatterns(claude.spec.status))).toEqual({
      state: 'needs_input',
      line: 'Do you want to make this edit to parser.ts?',
    });
  });
});

for (const runtime of readdirSync(FIXTURES)) {
  const spec = BUILT_IN_RUNTIMES.find((candidate) => candidate.name === runtime)!.spec;
  const patterns = compilePatterns(spec.status);
  describe(`${runtime} screen patterns`, () => {
    for (const file of readdirSync(join(FIXTURES, runtime))) {
      const state = file.replace(/(-[\w-]+)?\.txt$/, '');
      const expected = KNOWN_AMBIGUOUS[`${runtime}/${file}`] ?? EXPECTED[state];
      it(`${file} reads as ${expected}`, () => {
        expect(Object.keys(EXPECTED)).toContain(state);
        const reading = readScreen(screenText(join(FIXTURES, runtime, file)), patterns);
        expect(reading?.state ?? null).toBe(expected);
      });
    }

    it('names what its approval dialog asks (the command), not just that it asks', () => {
      const reading = readScreen(screenText(join(FIXTURES, runtime, 'needs_input.txt')), patterns);
      expect(reading).toEqual({ state: 'needs_input', line: ASKS[runtime] });
    });

    it('finds the answer line for an excerpt', () => {
      const text = screenText(join(FIXTURES, runtime, 'answered.txt'));
      expect(lastContentLine(text, patterns)).toBe('hello there');
    });

    const input = compileInputPatterns(spec.prompt);
    it('reads the input line as empty on every recorded screen with one (placeholders are not drafts)', () => {
      for (const file of readdirSync(join(FIXTURES, runtime))) {
        if (file.startsWith('needs_input')) continue; // the dialog replaces the input line
        expect(readInputLine(screenText(join(FIXTURES, runtime, file)), input), file).toBe('');
      }
    });

    it('reads a draft typed into the input line, below earlier prompts', () => {
      for (const file of ['idle.txt', 'answered.txt']) {
        const screen = WITH_DRAFT[runtime]!(screenText(join(FIXTURES, runtime, file)));
        expect(screen, file).toContain(DRAFT);
        expect(readInputLine(screen, input), file).toBe(DRAFT);
      }
    });
  });
}
