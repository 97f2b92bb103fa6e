/** Aider. Status from the screen: a `>` prompt when it waits, (Y)es/(N)o questions when it asks. */
import { defineRuntime } from '../spec.js';

export const aider = defineRuntime(
  'aider',
  {
    description: 'Aider',
    command: 'aider',
    install: 'python3 -m pip install aider-install && aider-install',
    credentials: {
      any_of: [
        { env: 'ANTHROPIC_API_KEY' },
        { env: 'OPENAI_API_KEY' },
        { env: 'GEMINI_API_KEY' },
        { env: 'DEEPSEEK_API_KEY' },
        { env: 'OPENROUTER_API_KEY' },
        { file: '~/.aider.conf.yml' },
      ],
      fix: 'set the API key of your model provider (e.g. ANTHROPIC_API_KEY), or write ~/.aider.conf.yml',
    },
    prompt: { paste: 'bracketed', submit: '\r', submit_delay_ms: 150 },
    status: {
      needs_input: ['\\(Y\\)es/\\(N\\)o'],
      busy: ['Waiting for', 'Tokens:.*sent'],
      idle: ['^\\S*>\\s*$'],
      quiet_ms: 2000,
    },
    resume_args: ['--restore-chat-history'],
    // Its (Y)es/(N)o questions read a line (not verified here: Aider does not install from npm).
    answers: { approve: 'y\r', deny: 'n\r' },
  },
  { statusChannel: 'screen' },
);
