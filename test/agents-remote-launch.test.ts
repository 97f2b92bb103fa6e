/**
 * What a runtime's launch gives a session on another machine: arguments and hook commands that name no
 * path of this one, and hooks that reach `tower hook` through $TOWER_HOOK — run here by a real /bin/sh
 * against a recorder whose path holds spaces and a quote, as $TOWER_HOOK (shell-quoted) names it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claude } from '../dist/agents/runtimes/claude.js';
import { codex } from '../dist/agents/runtimes/codex.js';
import { gemini } from '../dist/agents/runtimes/gemini.js';
import { opencode } from '../dist/agents/runtimes/opencode.js';
import { shellQuote } from '../dist/agents/runtimes/quote.js';
import type { AgentRuntime, LaunchContext } from '../dist/agents/spec.js';
import { sessionEnvironment, towerHookCommand } from '../dist/sessions/environment.js';
import { boxEnv } from '../dist/substrates/box/exec.js';
import { quoteWord } from '../dist/substrates/box/quote.js';
import { TOWER_BIN } from './support/daemon.js';

const scratch = mkdtempSync(join(tmpdir(), "tower-remote launch 'q' "));
const stateDir = join(scratch, 'state dir');
mkdirSync(stateDir);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const hookCommand = [process.execPath, TOWER_BIN, '--state-dir', stateDir, 'hook'];
const context = (remote: boolean): LaunchContext => ({
  sessionId: 's1',
  cwd: remote ? '~' : scratch,
  stateDir,
  hookCommand,
  env: {},
  remote,
});

/** A stand-in for `tower hook`: it writes its arguments (one a line) and what it read to `out`. */
const recorderDir = join(scratch, "a box's tower");
mkdirSync(recorderDir);
const recorder = join(recorderDir, 'tower hook');
const recorded = join(scratch, 'recorded');
writeFileSync(
  recorder,
  `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "$RECORD"\n` +
    `printf 'stdin:' >> "$RECORD"; cat >> "$RECORD"\n`,
);
chmodSync(recorder, 0o755);
const BOX_HOOK = [recorder, '--state-dir', '/home/dev/.tower', 'hook'].map(quoteWord).join(' ');

function runShell(command: string, env: Record<string, string>, input: string, args: string[] = []) {
  rmSync(recorded, { force: true });
  const run = spawnSync('/bin/sh', ['-c', command, 'hook', ...args], {
    input,
    env: { PATH: process.env.PATH!, RECORD: recorded, ...env },
    timeout: 10_000,
  });
  return {
    status: run.status,
    lines: existsSync(recorded) ? readFileSync(recorded, 'utf8').split('\n') : null,
  };
}

function claudeSettings(remote: boolean): { args: string[]; hooks: Record<string, string> } {
  const launch = claude.launch!(context(remote));
  const settings = remote ? launch.args[1]! : readFileSync(launch.args[1]!, 'utf8');
  const parsed = JSON.parse(settings) as {
    hooks: Record<string, Array<{ hooks: Array<{ command: string }> }>>;
  };
  const hooks = Object.fromEntries(
    Object.entries(parsed.hooks).map(([event, [entry]]) => [event, entry!.hooks[0]!.command]),
  );
  return { args: launch.args, hooks };
}

const mentionsLocal = (text: string) =>
  [stateDir, TOWER_BIN, process.execPath, scratch].some((path) => text.includes(path));

describe('Claude Code on a remote substrate', () => {
  it('takes its settings inline, naming no local path, and writes no file', () => {
    rmSync(join(stateDir, 'agents'), { recursive: true, force: true });
    const launch = claude.launch!(context(true));
    expect(launch.args[0]).toBe('--settings');
    expect(launch.args[1]!.startsWith('{')).toBe(true);
    expect(launch.files ?? []).toEqual([]);
    expect(launch.args.some(mentionsLocal)).toBe(false);
    expect(existsSync(join(stateDir, 'agents'))).toBe(false);
    const { hooks } = claudeSettings(true);
    expect(Object.keys(hooks).sort()).toEqual(
      [
        'Notification',
        'PermissionRequest',
        'PostToolUse',
        'PreToolUse',
        'SessionStart',
        'Stop',
        'UserPromptSubmit',
      ].sort(),
    );
  });

  it('runs `tower hook claude` through $TOWER_HOOK with the hook JSON on stdin', () => {
    const { hooks } = claudeSettings(true);
    const json = '{"hook_event_name":"Stop","last_assistant_message":"it\'s \\"done\\" $HOME"}';
    const run = runShell(hooks.Stop!, { TOWER_HOOK: BOX_HOOK }, json);
    expect(run.status).toBe(0);
    expect(run.lines).toEqual(['--state-dir', '/home/dev/.tower', 'hook', 'claude', `stdin:${json}`]);
  });

  it('without $TOWER_HOOK reports nothing, reads its stdin and exits 0', () => {
    const { hooks } = claudeSettings(true);
    const run = runShell(hooks.Notification!, {}, '{"hook_event_name":"Notification"}');
    expect(run).toEqual({ status: 0, lines: null });
  });

  it('falls back from the printf form to $TOWER_HOOK where the host takes no in-band signals', () => {
    const { hooks } = claudeSettings(true);
    const json = '{"hook_event_name":"PreToolUse","tool_name":"Bash"}';
    const run = runShell(hooks.PreToolUse!, { TOWER_HOOK: BOX_HOOK }, json);
    expect(run.status).toBe(0);
    expect(run.lines?.slice(3)).toEqual(['claude', `stdin:${json}`]);
  });
});

describe('Claude Code on this machine', () => {
  it('keeps its settings file in the state dir, and its hooks prefer $TOWER_HOOK', () => {
    const { args, hooks } = claudeSettings(false);
    expect(args).toEqual(['--settings', join(stateDir, 'agents', 'claude-settings.json')]);
    const json = '{"hook_event_name":"Stop"}';
    const viaEnv = runShell(hooks.Stop!, { TOWER_HOOK: BOX_HOOK }, json);
    expect(viaEnv.lines?.slice(3)).toEqual(['claude', `stdin:${json}`]);
  });

  it("falls back to this Tower's own hook command where $TOWER_HOOK is unset (an older host, a sandbox)", () => {
    const { hooks } = claudeSettings(false);
    // The real `tower hook` outside a session (no TOWER_SESSION_ID) does nothing and exits 0.
    const run = spawnSync('/bin/sh', ['-c', hooks.Stop!], { input: '{}', timeout: 10_000 });
    expect(run.status).toBe(0);
    expect(hooks.Stop).toContain(`exec ${hookCommand.map(shellQuote).join(' ')} claude`);
  });
});

describe('Codex on a remote substrate', () => {
  const notify = (remote: boolean) => {
    const args = codex.launch!(context(remote)).args;
    expect(args[0]).toBe('-c');
    expect(args[1]!.startsWith('notify=')).toBe(true);
    return JSON.parse(args[1]!.slice('notify='.length)) as string[];
  };

  it('sets notify inline to a shell that runs $TOWER_HOOK, naming no local path', () => {
    const argv = notify(true);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.some(mentionsLocal)).toBe(false);
  });

  it('passes the JSON Codex appends as one argument, whatever it holds', () => {
    const [, , script, name] = notify(true);
    const json = '{"type":"agent-turn-complete","last-assistant-message":"a b \'c\' \\"d\\" $(x) `y`"}';
    const run = runShell(script!, { TOWER_HOOK: BOX_HOOK }, '', [json]);
    expect(name).toBe('tower-hook');
    expect(run.status).toBe(0);
    expect(run.lines?.slice(3)).toEqual(['codex', json, 'stdin:']);
  });

  it('locally falls back to the argv it always ran', () => {
    const [, , script] = notify(false);
    expect(script).toContain(`exec ${hookCommand.map(shellQuote).join(' ')} codex "$1"`);
  });
});

describe('runtimes with nothing to pass', () => {
  it.each([gemini, opencode] as AgentRuntime[])(
    '$name has no launch: it runs anywhere as it is',
    (runtime) => {
      expect(runtime.launch).toBeUndefined();
    },
  );
});

describe('$TOWER_HOOK in a session environment', () => {
  it("is this Tower's `tower hook`, quoted for the shell, and set over what the daemon had", () => {
    const env = sessionEnvironment(
      { TOWER_HOOK: 'evil', PATH: '/bin' },
      { TOWER_HOOK: 'given' },
      {
        sessionId: 's1',
        stateDir,
      },
    );
    expect(env.TOWER_HOOK).toBe(towerHookCommand(stateDir));
    const words = spawnSync('/bin/sh', ['-c', `eval "set -- $TOWER_HOOK"; printf '%s\\n' "$@"`], {
      env: { TOWER_HOOK: env.TOWER_HOOK! },
    });
    expect(words.stdout.toString().trim().split('\n')).toEqual(hookCommand);
  });
});

describe('what of a session crosses to a box', () => {
  it("is only what the spawn gave: never the daemon's environment, not even a runtime's credentials", () => {
    const placement = {
      env: { ANTHROPIC_API_KEY: 'daemon-key', HOME: '/home/me', GIVEN: 'yes', PATH: '/opt/agents:/bin' },
      access: {
        givenEnv: ['GIVEN', 'PATH'],
        credentialEnv: ['ANTHROPIC_API_KEY'],
        credentialFiles: [],
        readOnly: [],
      },
    };
    expect(boxEnv(placement)).toEqual({ GIVEN: 'yes', PATH: '/opt/agents:/bin' });
  });
});
