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
    prompt: {
      // The prompt box: the input's last line, a blank line, then the agent and model (`Build · …`).
      input_line: ['^[ \\t]*┃(.*)\\n[ \\t]*┃[ \\t]*\\n[ \\t]*┃[ \\t]+\\S+ · '],
      placeholder: ['^Ask anything… '],
    },
    status: {
      // Its permission dialog replaces the prompt box; Enter takes the preselected "Allow once".
      needs_input: ['△ Permission required', 'Allow once\\s+Allow always\\s+Reject'],
      // The footer while a turn runs: an animated bar (■⬝) and "esc interrupt".
      busy: ['esc interrupt', '^\\s*[■⬝]{8}\\s'],
      // The footer of the prompt box, busy or not (busy outranks it).
      idle: ['ctrl\\+p commands'],
      // Answers are indented 5; the turn footer (▣ Build · model) and a pending tool call ($ cmd) too.
      answer: ['^ {5}(?![▣$] )(\\S.*)'],
      // "△ Permission required", then "# Shell command" and "$ <command>", or one line naming the file.
      ask: [
        '△ Permission required\\n[^\\n]*?# ([^\\n]+)\\n[\\s\\S]*?┃\\s+\\$ ([^\\n]+)',
        '△ Permission required\\n[^\\n]*?[→✱%◈◇←⚙#] ([^\\n]+)',
      ],
      quiet_ms: 2000,
    },
    resume_args: ['--continue'],
    // Enter takes the preselected "Allow once"; Esc rejects.
    answers: { approve: '\r', deny: '\x1b' },
  },
  { statusChannel: 'screen' },
);
