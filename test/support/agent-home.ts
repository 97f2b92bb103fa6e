/**
 * Throwaway HOME directories prepared so each real agent CLI talks to the fake model server
 * (test/support/fake-model.ts) and shows no first-run dialog. Each helper returns `{ home, env }`:
 * pass `env` to the spawned session (it is complete: PATH, HOME, TERM… plus the CLI's settings).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const AGENTS_DIR = process.env.TOWER_AGENTS_DIR ?? join(homedir(), '.cache', 'tower-agents');
export const AGENTS_BIN = join(AGENTS_DIR, 'node_modules', '.bin');

/** The path of an installed agent CLI, or null when scripts/install-agents.sh has not installed it. */
export function agentBin(name: 'claude' | 'codex' | 'gemini' | 'opencode'): string | null {
  const path = join(AGENTS_BIN, name);
  return existsSync(path) ? path : null;
}

export interface AgentHome {
  home: string;
  env: Record<string, string>;
}

export interface AgentHomeOptions {
  /** Folders the CLI should trust without asking (absolute). Default: the current directory. */
  trust?: string[];
  /** A parent for the HOME directory. Default: the OS temp dir. */
  parent?: string;
}

function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return {
    ...env,
    PATH: `${AGENTS_BIN}:${env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    HOME: home,
    USER: process.env.USER ?? 'root',
    SHELL: '/bin/bash',
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    // The session inherits the daemon's environment: under CI (.ci/run sets CI=true), Gemini CLI takes
    // itself for non-interactive and exits 42 at once.
    CI: 'false',
    NO_UPDATE_NOTIFIER: '1',
    npm_config_update_notifier: 'false',
  };
}

function newHome(runtime: string, options: AgentHomeOptions): { home: string; trust: string[] } {
  const home = mkdtempSync(join(options.parent ?? tmpdir(), `tower-${runtime}-home-`));
  return { home, trust: options.trust ?? [process.cwd()] };
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Claude Code: onboarding done, folders trusted, auth token (not API key: no approval dialog). */
export function claudeHome(baseUrl: string, options: AgentHomeOptions = {}): AgentHome {
  const { home, trust } = newHome('claude', options);
  const project = {
    allowedTools: [],
    hasTrustDialogAccepted: true,
    hasCompletedProjectOnboarding: true,
    projectOnboardingSeenCount: 1,
    hasClaudeMdExternalIncludesApproved: false,
    hasClaudeMdExternalIncludesWarningShown: true,
  };
  writeJson(join(home, '.claude.json'), {
    numStartups: 1,
    installMethod: 'npm',
    autoUpdates: false,
    hasCompletedOnboarding: true,
    lastOnboardingVersion: '2.1.197',
    theme: 'dark',
    hasSeenTasksHint: true,
    tipsHistory: {},
    bypassPermissionsModeAccepted: true,
    projects: Object.fromEntries(trust.map((dir) => [dir, project])),
  });
  writeJson(join(home, '.claude', 'settings.json'), { autoUpdates: false });
  const env = {
    ...baseEnv(home),
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_AUTH_TOKEN: 'fake-token',
    ANTHROPIC_MODEL: 'claude-fake',
    ANTHROPIC_SMALL_FAST_MODEL: 'claude-fake-haiku',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
  return { home, env };
}

/** Codex: a custom "fake" Responses-API provider, trusted folders, no update check. */
export function codexHome(baseUrl: string, options: AgentHomeOptions = {}): AgentHome {
  const { home, trust } = newHome('codex', options);
  const projects = trust
    .map((dir) => `[projects.${JSON.stringify(dir)}]\ntrust_level = "trusted"\n`)
    .join('\n');
  const config = `model = "gpt-5.5"
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake"
base_url = "${baseUrl}/v1"
wire_api = "responses"
env_key = "FAKE_API_KEY"
request_max_retries = 0
stream_max_retries = 0

[tui]
screen_reader_detection_done = true

[tui.model_availability_nux]
"gpt-6.1-sol" = 1

[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"

${projects}`;
  mkdirSync(join(home, '.codex'), { recursive: true });
  writeFileSync(join(home, '.codex', 'config.toml'), config);
  // Codex refuses to set up its helper binaries when CODEX_HOME is under the temp dir, and says so on
  // the first screen: give it a TMPDIR of its own inside HOME.
  mkdirSync(join(home, 'tmp'));
  const env = {
    ...baseEnv(home),
    CODEX_HOME: join(home, '.codex'),
    TMPDIR: join(home, 'tmp'),
    FAKE_API_KEY: 'fake-key',
  };
  return { home, env };
}

/** Gemini CLI: API-key auth against GOOGLE_GEMINI_BASE_URL, folder trust off, no update/telemetry. */
export function geminiHome(baseUrl: string, options: AgentHomeOptions = {}): AgentHome {
  const { home, trust } = newHome('gemini', options);
  writeJson(join(home, '.gemini', 'settings.json'), {
    security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
    general: { disableAutoUpdate: true, disableUpdateNag: true },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    ui: { hideTips: true, hideBanner: true },
  });
  writeJson(
    join(home, '.gemini', 'trustedFolders.json'),
    Object.fromEntries(trust.map((d) => [d, 'TRUST_FOLDER'])),
  );
  const env = {
    ...baseEnv(home),
    GEMINI_API_KEY: 'fake-key',
    GOOGLE_GEMINI_BASE_URL: baseUrl,
    GEMINI_CLI_NO_RELAUNCH: 'true',
  };
  return { home, env };
}

/**
 * OpenCode: a custom "fake" provider (the bundled @ai-sdk/anthropic against the fake Messages API; its
 * key in auth.json, as `opencode auth login` writes it), bash asks before running (OpenCode's default is
 * to allow), no update check, no models.dev fetch, no default plugins. It has no folder trust.
 */
export function opencodeHome(baseUrl: string, options: AgentHomeOptions = {}): AgentHome {
  const { home } = newHome('opencode', options);
  writeJson(join(home, '.config', 'opencode', 'opencode.json'), {
    $schema: 'https://opencode.ai/config.json',
    model: 'fake/claude-fake',
    small_model: 'fake/claude-fake',
    autoupdate: false,
    share: 'disabled',
    permission: { bash: 'ask' },
    provider: {
      fake: {
        npm: '@ai-sdk/anthropic',
        name: 'Fake',
        options: { baseURL: `${baseUrl}/v1` },
        models: { 'claude-fake': { name: 'Claude Fake', tool_call: true } },
      },
    },
  });
  writeJson(join(home, '.local', 'share', 'opencode', 'auth.json'), {
    fake: { type: 'api', key: 'fake-key' },
  });
  const env = {
    ...baseEnv(home),
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
    OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    OPENCODE_DISABLE_SHARE: '1',
  };
  return { home, env };
}
