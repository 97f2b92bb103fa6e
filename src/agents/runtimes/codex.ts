/**
 * Codex CLI. It writes its state into the output as OSC 7501 (working, blocked on a permission, done,
 * idle), and runs its `notify` program (set with -c, never in the user's config.toml) at each finished
 * turn; the screen is the fallback.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineRuntime } from '../spec.js';
import { towerHookShell } from './tower-hook.js';

export const codex = defineRuntime(
  'codex',
  {
    description: 'Codex CLI (OpenAI)',
    command: 'codex',
    // Without it the TUI leaves a detached app-server daemon running after it exits.
    args: ['--no-daemon'],
    install: 'npm install -g @openai/codex',
    credentials: {
      any_of: [{ env: 'OPENAI_API_KEY' }, { env: 'CODEX_API_KEY' }, { file: '~/.codex/auth.json' }],
      fix: 'run `codex login`, set OPENAI_API_KEY, or configure a model_provider in ~/.codex/config.toml',
    },
    prompt: {
      input_line: ['^›(.*)$'],
      // An empty composer shows one of these, picked at random when Codex starts.
      placeholder: [
        '^(Ask Codex to do anything|Explain this codebase|Summarize recent commits|Implement \\{feature\\}' +
          '|Find and fix a bug in @filename|Write tests for @filename|Improve documentation in @filename' +
          '|Run /review on my current changes|Use /skills to list available skills)$',
      ],
    },
    status: {
      needs_input: [
        'Would you like to (run|make|apply)',
        '^\\s*›?\\s*1\\.\\s*Yes, proceed',
        'Press enter to confirm or esc to cancel',
      ],
      busy: ['esc to interrupt', '^\\s*[•◦]\\s*Working'],
      idle: ['\\? for shortcuts', 'context left'],
      answer: ['^• (?!Working|Running|Ran |Explored|Edited|Read |Updated)(.+)'],
      ask: ['Would you like to (run) the following command\\?[\\s\\S]*?^\\s*\\$ ([^\\n]+)'],
      quiet_ms: 1500,
    },
    resume_args: ['resume', '--last'],
    // "1. Yes, proceed (y)"; "3. No, and tell Codex what to do differently (esc)".
    answers: { approve: 'y', deny: '\x1b' },
  },
  {
    statusChannel: 'notify+osc',
    launch(context) {
      // Codex runs notify as argv with the JSON appended: a shell reads $TOWER_HOOK, the JSON is its $1.
      const notify = ['sh', '-c', towerHookShell(context, 'codex "$1"', { readsStdin: false }), 'tower-hook'];
      return { args: ['-c', `notify=${JSON.stringify(notify)}`], env: {} };
    },
    readSignal(event, payload) {
      const type = typeof payload.type === 'string' ? payload.type : event;
      // Codex also runs a side thread that titles the conversation; its end is not the turn's.
      if (type !== 'agent-turn-complete' || payload.side_thread === 'true') return null;
      const last = payload['last-assistant-message'];
      return {
        state: 'idle',
        reason: 'turn finished',
        excerpt: typeof last === 'string' ? last : undefined,
      };
    },
    readOsc(code, payload) {
      if (code !== 7501) return null;
      const state = /(?:^|:)state=(\w+)/.exec(payload)?.[1];
      if (state === 'working') return { state: 'busy', reason: 'working' };
      if (state === 'blocked')
        return { state: 'needs_input', reason: 'asks for approval', excerpt: 'asks for approval' };
      if (state === 'done') return { state: 'idle', reason: 'turn finished' };
      // idle also comes late after a turn and around a paste: it only says ready, or a dialog was dismissed.
      if (state === 'idle') return { state: 'idle', reason: 'ready', from: ['starting', 'needs_input'] };
      return null;
    },
    extraUpstream: configuredProvider,
  },
);

/** A custom model_provider in config.toml is an upstream when its env_key (if any) is set. */
function configuredProvider(env: Record<string, string>, home: string): string | null {
  const file = join(env.CODEX_HOME || join(home, '.codex'), 'config.toml');
  if (!existsSync(file)) return null;
  const toml = readFileSync(file, 'utf8');
  const provider = /^\s*model_provider\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (!provider) return null;
  const section = new RegExp(
    `^\\s*\\[model_providers\\.${provider.replace(/\W/g, '\\$&')}\\]([^[]*)`,
    'm',
  ).exec(toml);
  if (!section) return null;
  const envKey = /^\s*env_key\s*=\s*"([^"]+)"/m.exec(section[1] ?? '')?.[1];
  if (envKey && !env[envKey]) return null;
  return `model provider "${provider}" in ${file}`;
}
