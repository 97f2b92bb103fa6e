/** Goose (Block). Status from the screen. */
import { defineRuntime } from '../spec.js';

export const goose = defineRuntime(
  'goose',
  {
    description: 'Goose',
    command: 'goose',
    args: ['session'],
    install: 'see https://block.github.io/goose/docs/getting-started/installation',
    credentials: {
      any_of: [{ env: 'GOOSE_PROVIDER' }, { file: '~/.config/goose/config.yaml' }],
      fix: 'run `goose configure` to choose a provider',
    },
    status: {
      needs_input: ['Allow\\?', 'Do you want to'],
      busy: ['^\\s*[◐◓◑◒⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]'],
      idle: ['\\( O\\)>'],
      quiet_ms: 2000,
    },
    resume_args: ['--resume'],
  },
  { statusChannel: 'screen' },
);
