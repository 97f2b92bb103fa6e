/**
 * The environment policy: a session gets the daemon's environment minus what describes where the daemon
 * was started (a multiplexer, a terminal, CI, npm's script plumbing, Tower's own settings), plus TERM,
 * COLORTERM, TOWER_SESSION_ID, TOWER_STATE_DIR and TOWER_SIGNAL_KEY; variables given at spawn win.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

describe('the environment a session starts with', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    daemon = await startTestDaemon({
      serveArgs: ['--no-http'],
      env: {
        TMUX: '/tmp/tmux-0/default,1234,0',
        TMUX_PANE: '%3',
        STY: '999.pts-1.host',
        CI: 'true',
        TOWER_TEST_STRICT: '1',
        TOWER_SOMETHING: 'x',
        COLUMNS: '40',
        LINES: '10',
        TERM_PROGRAM: 'vscode',
        VSCODE_IPC_HOOK_CLI: '/tmp/vscode.sock',
        npm_lifecycle_event: 'start',
        npm_config_prefix: '/somewhere',
        PATH: `/work/project/node_modules/.bin:/work/node_modules/.bin:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:${SYSTEM_PATH}`,
        KEEP_ME: 'kept',
      },
    });
    client = await daemon.connect();
  });
  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  const environmentOf = async (env?: Record<string, string>) => {
    const { sessionId } = await client.createSession({ shell: '/usr/bin/env', env });
    await waitFor(
      async () => (await client.list()).find((s) => s.id === sessionId)?.status === 'exited',
      'env',
    );
    const text = (await readAllOutput(client, sessionId, 0)).toString().replace(/\r/g, '');
    const vars = new Map<string, string>();
    for (const line of text.split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) vars.set(line.slice(0, at), line.slice(at + 1));
    }
    return { sessionId, vars };
  };

  it('drops the outer multiplexer, terminal, CI, npm and Tower variables; keeps the rest', async () => {
    const { sessionId, vars } = await environmentOf();
    for (const name of [
      'TMUX',
      'TMUX_PANE',
      'STY',
      'CI',
      'TOWER_TEST_STRICT',
      'TOWER_SOMETHING',
      'COLUMNS',
      'LINES',
      'TERM_PROGRAM',
      'VSCODE_IPC_HOOK_CLI',
      'npm_lifecycle_event',
      'npm_config_prefix',
    ]) {
      expect(vars.has(name), name).toBe(false);
    }
    expect(vars.get('KEEP_ME')).toBe('kept');
    expect(vars.get('TERM')).toBe('xterm-256color');
    expect(vars.get('COLORTERM')).toBe('truecolor');
    expect(vars.get('TOWER_SESSION_ID')).toBe(sessionId);
    expect(vars.get('TOWER_STATE_DIR')).toBe(daemon.stateDir);
    // The key of its in-band status signals: its own, not the daemon's (TOWER_* are dropped).
    expect(vars.get('TOWER_SIGNAL_KEY')).toMatch(/^[0-9a-f]{32}$/);
    expect(vars.get('PATH')).toBe(SYSTEM_PATH);
  });

  it('keeps what the spawn gives explicitly, even a dropped name', async () => {
    const { vars } = await environmentOf({ TMUX: 'explicit', EXTRA: 'yes', TERM: 'screen' });
    expect(vars.get('TMUX')).toBe('explicit');
    expect(vars.get('EXTRA')).toBe('yes');
    expect(vars.get('TERM')).toBe('screen');
  });
});
