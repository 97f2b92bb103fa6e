/**
 * Claude Code. Status comes from its hooks, passed with --settings so the user's own settings are
 * never edited; the screen is the fallback (and the only channel for a session started elsewhere).
 * The hooks Claude Code waits for on every tool call report with a shell command; those whose payload
 * is free text (a notification's message, the turn's last answer) run `tower hook` ($TOWER_HOOK).
 * Locally the settings are a file in the state dir (a sandbox shows it read-only); on another machine
 * they go inline, as JSON (--settings takes a path or JSON), so nothing has to be written there first.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineRuntime, type SignalReading } from '../spec.js';
import { shellSignalCommand } from './shell-signal.js';
import { towerHookShell } from './tower-hook.js';

const HOOK_EVENTS = [
  'SessionStart',
  'UserPromptSubmit',
  'PreToolUse',
  'PostToolUse',
  'Notification',
  'PermissionRequest',
  'Stop',
] as const;
/** What the shell form reports of each event it handles: the name, and for some the tool's name. */
const SHELL_EVENTS: Partial<Record<(typeof HOOK_EVENTS)[number], { withTool: boolean }>> = {
  SessionStart: { withTool: false },
  UserPromptSubmit: { withTool: false },
  PreToolUse: { withTool: true },
  PostToolUse: { withTool: true },
  PermissionRequest: { withTool: true },
};

export const claude = defineRuntime(
  'claude',
  {
    description: 'Claude Code (Anthropic)',
    command: 'claude',
    install: 'npm install -g @anthropic-ai/claude-code',
    credentials: {
      any_of: [
        { env: 'ANTHROPIC_API_KEY' },
        { env: 'ANTHROPIC_AUTH_TOKEN' },
        { env: 'CLAUDE_CODE_OAUTH_TOKEN' },
        { env: 'CLAUDE_CODE_USE_BEDROCK' },
        { env: 'CLAUDE_CODE_USE_VERTEX' },
        { file: '~/.claude/.credentials.json' },
      ],
      fix: 'run `claude` once and log in, or set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN with ANTHROPIC_BASE_URL)',
    },
    prompt: {
      // The input line sits between two rules at the bottom; earlier prompts above keep the same mark.
      input_line: ['^[>❯](.*)$'],
    },
    status: {
      needs_input: [
        '^\\s*Do you want to (proceed|make this edit|create|allow)',
        '^\\s*❯\\s*1\\.\\s*Yes',
        'Esc to cancel',
      ],
      busy: ['esc to interrupt'],
      idle: ['^\\s*[>❯]\\s*$', '\\? for shortcuts'],
      // "● text" is an answer; "● Bash(…)" is a tool call.
      answer: ['^● (?![A-Z]\\w*\\()(.+)'],
      // " Bash command", a blank line, then the command. Other dialogs name their file in the question.
      ask: ['^\\s*(Bash) command\\n\\s*\\n\\s*(\\S[^\\n]*)'],
      quiet_ms: 1500,
    },
    resume_args: ['--continue'],
    // Option 1 ("Yes") is a key of its own; Esc cancels and tells Claude to wait for instructions.
    answers: { approve: '1', deny: '\x1b' },
  },
  {
    statusChannel: 'hooks',
    launch(context) {
      const towerHook = towerHookShell(context, 'claude', { readsStdin: true });
      // On a box with no Tower (tmux keeps its sessions) the turn's end still reports, its text then read off the screen.
      const stopWithoutTower = shellSignalCommand('claude', 'Stop', {
        withTool: false,
        fallback: 'cat >/dev/null',
      });
      const stopHook = towerHookShell(context, 'claude', {
        readsStdin: true,
        withoutTower: stopWithoutTower,
      });
      const hooks = Object.fromEntries(
        HOOK_EVENTS.map((event) => {
          const shell = SHELL_EVENTS[event];
          const command = shell
            ? shellSignalCommand('claude', event, { ...shell, fallback: towerHook })
            : event === 'Stop'
              ? stopHook
              : towerHook;
          const hook = { hooks: [{ type: 'command', command, timeout: 10 }] };
          return [event, [event.endsWith('ToolUse') ? { matcher: '*', ...hook } : hook]];
        }),
      );
      if (context.remote) return { args: ['--settings', JSON.stringify({ hooks })], env: {} };
      const dir = join(context.stateDir, 'agents');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, 'claude-settings.json');
      writeFileSync(file, `${JSON.stringify({ hooks }, null, 2)}\n`, { mode: 0o600 });
      return { args: ['--settings', file], env: {}, files: [file] };
    },
    readSignal: readClaudeHook,
  },
);

function readClaudeHook(event: string, payload: Record<string, unknown>): SignalReading | null {
  const text = (key: string) => (typeof payload[key] === 'string' ? (payload[key] as string) : '');
  switch (event) {
    case 'UserPromptSubmit':
      return { state: 'busy', reason: 'prompt submitted' };
    case 'PreToolUse':
      return { state: 'busy', reason: `using ${text('tool_name') || 'a tool'}` };
    case 'PostToolUse':
      return { state: 'busy', reason: `${text('tool_name') || 'tool'} finished` };
    // The hook's payload names only the tool; the attention event names the command from the screen.
    case 'PermissionRequest':
      return {
        state: 'needs_input',
        reason: `asks permission to use ${text('tool_name') || 'a tool'}`,
        excerpt: `asks permission to use ${text('tool_name') || 'a tool'}`,
      };
    case 'Notification': {
      const message = text('message');
      const kind = text('notification_type');
      if (kind === 'permission_prompt' || /permission/i.test(message))
        return { state: 'needs_input', reason: message || 'needs permission', excerpt: message };
      if (kind === 'elicitation_dialog') return { state: 'needs_input', reason: message, excerpt: message };
      return null;
    }
    case 'Stop':
      return {
        state: 'idle',
        reason: 'turn finished',
        excerpt: text('last_assistant_message') || undefined,
      };
    default:
      return null;
  }
}
