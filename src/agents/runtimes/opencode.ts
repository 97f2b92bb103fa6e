/** OpenCode. Status from the screen. */
import { defineRuntime } from '../spec.js';

export const opencode = defineRuntime(
  'opencode',
  {
    description: 'OpenCode',
    command: 'opencode',
    install: 'npm install -g opencode-ai',
    credentials: {
      any_of: [
        { file: '~/.local/share/opencode/auth.json' },
        { env: 'ANTHROPIC_API_KEY' },
        { env: 'OPENAI_API_KEY' },
        { env: 'OPENROUTER_API_KEY' },
      ],
      fix: 'run `opencode auth login`, or set your provider API key',
    },
    status: {
      needs_input: ['Permission required', 'Allow (once|always)'],
      busy: ['esc interrupt', 'working'],
      idle: ['enter send'],
      quiet_ms: 2000,
    },
    resume_args: ['--continue'],
  },
  { statusChannel: 'screen' },
);
