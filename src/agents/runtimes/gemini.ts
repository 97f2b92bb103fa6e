/**
 * Gemini CLI. Status from the screen: its patterns are data, checked against fixtures. Gemini CLI 0.61
 * has hooks, but reads them only from the user's or the project's settings.json (not from the
 * GEMINI_CLI_SYSTEM_SETTINGS_PATH or _DEFAULTS_PATH layers: tried, they never ran), and Tower never
 * edits those.
 */
import { defineRuntime } from '../spec.js';

export const gemini = defineRuntime(
  'gemini',
  {
    description: 'Gemini CLI (Google)',
    command: 'gemini',
    install: 'npm install -g @google/gemini-cli',
    credentials: {
      any_of: [
        { env: 'GEMINI_API_KEY' },
        { env: 'GOOGLE_API_KEY' },
        { env: 'GOOGLE_GENAI_USE_VERTEXAI' },
        { file: '~/.gemini/oauth_creds.json' },
      ],
      fix: 'run `gemini` once and sign in with Google, or set GEMINI_API_KEY',
    },
    prompt: {
      input_line: ['^ ?> (.*)$'],
      placeholder: ['^Type your message or @path/to/file$'],
    },
    status: {
      needs_input: ['Allow execution', 'Apply this change\\?', 'Do you want to proceed', 'Do you trust'],
      busy: ['esc to cancel'],
      idle: ['Type your message'],
      answer: ['^✦ (.+)'],
      // The box's title line: "│ ? Shell  touch /tmp/x │".
      ask: ['^\\W*\\? (\\S+) {2,}(\\S[^\\n]*?)\\s*│?$'],
      quiet_ms: 800,
    },
    resume_args: ['--resume', 'latest'],
    // Enter takes the preselected "1. Allow once"; "3. No, suggest changes (esc)".
    answers: { approve: '\r', deny: '\x1b' },
  },
  { statusChannel: 'screen' },
);
