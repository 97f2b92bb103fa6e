/**
 * The user's own shell: needs nothing. Busy while a command runs in the foreground, which the
 * terminal itself tells (its foreground process group), so no screen patterns are needed.
 */
import { defaultShell } from '../../substrates/command.js';
import { defineRuntime } from '../spec.js';

export const shell = defineRuntime(
  'shell',
  {
    description: 'your shell',
    command: defaultShell(),
    prompt: { paste: 'bracketed', submit: '\r', submit_delay_ms: 0 },
  },
  { statusChannel: 'process' },
);
