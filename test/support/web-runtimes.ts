/**
 * Custom runtimes for the web tests, written to <state-dir>/runtimes.json before the daemon starts:
 * `fakeagent`, a small real program on /bin/sh that behaves like an agent CLI (a prompt, work, an
 * approval question), and `blocked`, whose credential gate always fails (its variable is never set).
 * Tests may add more: `SCRIPTED` (the scripted agent, test/fixtures/scripted-agent.mjs, with its
 * answer keys and the pattern naming what its dialog asks) and `MISSING` (a program not installed).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scriptedRuntime } from './agents.js';

/** Never set anywhere: the `blocked` runtime's only credential. */
export const UNSET_CREDENTIAL = 'TOWER_WEB_TEST_NEVER_SET_KEY';
export const BLOCKED_FIX = `export ${UNSET_CREDENTIAL}=… before tower serve`;
export const APPROVAL_LINE = 'Do you want to proceed? (y/n)';
export const MISSING_PROGRAM = 'tower-web-test-no-such-program';

/**
 * Waits at `agent> ` for a line; says what it works on, then asks for approval and waits again.
 * An answer clears the screen (the question is gone) and it is back at its prompt.
 */
const FAKE_AGENT = `
printf 'fake agent ready\\n'
while :; do
  printf 'agent> '
  IFS= read -r line || exit 0
  printf 'working on: %s\\n' "$line"
  sleep 0.3
  printf '${APPROVAL_LINE} '
  IFS= read -r answer || exit 0
  printf '\\033[H\\033[2Janswered %s\\n' "$answer"
done
`;

if (process.env[UNSET_CREDENTIAL]) throw new Error(`${UNSET_CREDENTIAL} must not be set for these tests`);

export const SCRIPTED = scriptedRuntime({
  answers: { approve: '1', deny: '\x1b' },
  status: {
    needs_input: ['^Do you want to proceed'],
    busy: ['esc to interrupt'],
    idle: ['^ready>$'],
    ask: ['^Tool call: (.+)'],
    quiet_ms: 400,
  },
});
export const MISSING = { description: 'a runtime that is not installed', command: MISSING_PROGRAM };

/** A fresh state dir holding runtimes.json (and the fake agent's script), with `extra` runtimes. */
export function stateDirWithRuntimes(extra: Record<string, unknown> = {}): string {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-web-test-'));
  const script = join(stateDir, 'fake-agent.sh');
  writeFileSync(script, FAKE_AGENT, { mode: 0o755 });
  const runtimes = {
    runtimes: {
      fakeagent: {
        description: 'a scripted agent for the web tests',
        command: '/bin/sh',
        args: [script],
        status: {
          needs_input: ['Do you want to proceed\\? \\(y/n\\)'],
          idle: ['^agent>'],
          busy: [],
          quiet_ms: 300,
        },
      },
      blocked: {
        description: 'a runtime without a model upstream',
        command: '/bin/sh',
        credentials: { any_of: [{ env: UNSET_CREDENTIAL }], fix: BLOCKED_FIX },
      },
      ...extra,
    },
  };
  writeFileSync(join(stateDir, 'runtimes.json'), JSON.stringify(runtimes, null, 2));
  return stateDir;
}
