/**
 * The sandbox substrate with real bubblewrap, through the real daemon: the workspace is writable and
 * nothing else is; Tower's state dir (the token, tower.db, the socket, other sessions' journals) and the
 * user's home are not there; the environment keeps only what the session was given and its runtime's
 * credential variables, and its credential files are there read-only; `network: false` leaves it no
 * network (a host listener on loopback is out of reach), `network: true` keeps it; and Claude Code runs
 * inside against the fake model server, its status right, reported in-band through its own terminal
 * (the sandbox has no socket of Tower's).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { recordEvents, sessionInfo, waitState, writeRuntimes } from './support/agents.js';
import { ROOT, readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { type FakeModel, startFakeModel } from './support/fake-model.js';
import { installed, REAL_RUNTIMES, STRICT, scriptedTurn } from './support/real-agents.js';
import { failWithoutBwrap, HAVE_BWRAP, writeSubstrates } from './support/substrates.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-sandbox-'));
const stateDir = join(scratch, 'state');
const home = join(scratch, 'home');
const workspace = join(scratch, 'workspace');
const outside = join(scratch, 'outside');
for (const dir of [stateDir, home, workspace, outside]) mkdirSync(dir, { recursive: true, mode: 0o700 });
writeFileSync(join(home, 'private.txt'), 'my own\n');
mkdirSync(join(home, '.keyed'));
writeFileSync(join(home, '.keyed', 'auth.json'), '{"key":"from-file"}\n');
writeSubstrates(stateDir, [
  { name: 'box', type: 'sandbox', network: false },
  { name: 'open', type: 'sandbox' },
]);
writeRuntimes(stateDir, {
  keyed: {
    command: 'sh',
    credentials: {
      any_of: [{ env: 'KEYED_API_KEY' }, { file: '~/.keyed/auth.json' }],
      fix: 'set KEYED_API_KEY',
    },
  },
  needy: {
    command: 'sh',
    credentials: { any_of: [{ env: 'NEEDY_KEY_NOWHERE' }], fix: 'set NEEDY_KEY_NOWHERE' },
  },
});

let daemon: TestDaemon;
let client: TowerClient;

/** Run a shell script in a session on `substrate`; its output once it exited. */
async function run(
  substrate: string,
  script: string,
  extra: { runtime?: string; shell?: string; env?: Record<string, string> } = {},
): Promise<{ text: string; exitCode: number | null }> {
  const options = { substrate, cwd: workspace, env: extra.env, args: ['-c', script] };
  const { sessionId } = await client.createSession(
    extra.runtime ? { ...options, runtime: extra.runtime } : { ...options, shell: extra.shell ?? '/bin/sh' },
  );
  const info = await waitFor(async () => {
    const current = await sessionInfo(client, sessionId);
    return current.status !== 'running' && current;
  }, `the script on ${substrate} to end`);
  const text = (await readAllOutput(client, sessionId, 0)).toString('utf8');
  return { text, exitCode: info.exit_code };
}

failWithoutBwrap('sandbox substrate');

describe.runIf(HAVE_BWRAP)('the sandbox substrate (bubblewrap)', () => {
  beforeAll(async () => {
    daemon = await startTestDaemon({
      stateDir,
      serveArgs: ['--no-http'],
      env: { HOME: home, KEYED_API_KEY: 'from-the-daemon', SANDBOX_TEST_SECRET: 'not-for-sandboxes' },
    });
    client = await daemon.connect();
  });

  afterAll(async () => {
    client?.end();
    await daemon?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lists its sandboxes ready, with their network setting', async () => {
    const { substrates, config_error } = await client.substrates();
    expect(config_error).toBeNull();
    expect(
      substrates.map(({ name, state, capabilities }) => [
        name,
        state,
        capabilities.isolated,
        capabilities.network,
      ]),
    ).toEqual([
      ['local', 'ready', false, true],
      ['box', 'ready', true, false],
      ['open', 'ready', true, true],
    ]);
  });

  it('the workspace is writable; the rest of the system is read-only, kernel settings too', async () => {
    const script = [
      'echo made > made-here && echo workspace-ok',
      `touch ${join(ROOT, 'sandbox-was-here')} 2>&1`,
      'touch /usr/sandbox-was-here 2>&1',
      `echo x > ${join(outside, 'escaped')} 2>&1 || true`,
      // Written back unchanged: even as root it must not reach the kernel's settings.
      'cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness 2>&1 || echo sysctl-refused',
    ].join('; ');
    const { text } = await run('box', script);
    expect(text).toContain('workspace-ok');
    expect(readFileSync(join(workspace, 'made-here'), 'utf8')).toBe('made\n');
    // Read-only, or (a checkout under /tmp) not there at all behind the sandbox's own /tmp.
    expect(text).toContain(`touch: cannot touch '${join(ROOT, 'sandbox-was-here')}': `);
    expect(text).not.toContain(`touch: cannot touch '${join(ROOT, 'sandbox-was-here')}': Permission`);
    expect(existsSync(join(ROOT, 'sandbox-was-here'))).toBe(false);
    expect(text).toContain("touch: cannot touch '/usr/sandbox-was-here': Read-only file system");
    expect(text).toContain('sysctl-refused');
    // Outside the workspace under /tmp: the sandbox has a /tmp of its own, so nothing reaches the host.
    expect(readdirSync(outside)).toEqual([]);
  });

  it("Tower's state is not there: not the token, tower.db, the socket, nor another session's journal", async () => {
    const other = await run('local', 'echo output of another session');
    expect(other.text).toContain('output of another session');
    const { text } = await run(
      'box',
      `cat ${join(stateDir, 'token')} 2>&1; ls -A ${stateDir}; ls ${join(stateDir, 'sessions')} 2>&1; echo listed`,
    );
    expect(text).toContain(`cat: ${join(stateDir, 'token')}: No such file or directory`);
    expect(text).not.toContain('tower.db');
    expect(text).not.toContain('tower.sock');
    expect(text).toContain(`ls: cannot access '${join(stateDir, 'sessions')}': No such file or directory`);
    expect(text).toContain('listed');
  });

  it("the user's home is hidden; a plain command gets only the variables given with it", async () => {
    const script = `cat ${join(home, 'private.txt')} 2>&1; echo "secret=[$SANDBOX_TEST_SECRET] key=[$KEYED_API_KEY] given=[$GIVEN_VAR]"`;
    const local = await run('local', script, { env: { GIVEN_VAR: 'given' } });
    expect(local.text).toContain('my own');
    expect(local.text).toContain('secret=[not-for-sandboxes] key=[from-the-daemon] given=[given]');
    const boxed = await run('box', script, { env: { GIVEN_VAR: 'given' } });
    expect(boxed.text).toContain(`cat: ${join(home, 'private.txt')}: No such file or directory`);
    expect(boxed.text).toContain('secret=[] key=[] given=[given]');
  });

  it("a runtime's credentials reach it as its gate rules name them: the variable, the file read-only", async () => {
    const script = [
      'echo "key=[$KEYED_API_KEY] secret=[$SANDBOX_TEST_SECRET]"',
      'cat ~/.keyed/auth.json',
      'echo tampered >> ~/.keyed/auth.json 2>&1 || echo not-writable',
      'cat ~/private.txt 2>&1',
    ].join('; ');
    const { text } = await run('box', script, { runtime: 'keyed' });
    expect(text).toContain('key=[from-the-daemon] secret=[]');
    expect(text).toContain('{"key":"from-file"}');
    expect(text).toContain('not-writable');
    expect(text).toContain('private.txt: No such file or directory');
    expect(readFileSync(join(home, '.keyed', 'auth.json'), 'utf8')).toBe('{"key":"from-file"}\n');
    expect(await sessionInfo(client, (await client.list()).at(-1)!.id)).toMatchObject({ substrate: 'box' });
  });

  it('the credential gate looks inside the sandbox, and says so when it blocks', async () => {
    const error = await client
      .createSession({ runtime: 'needy', substrate: 'box', cwd: workspace })
      .catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'runtime_blocked' });
    expect((error as Error).message).toMatch(
      /^cannot start needy on substrate box: no model upstream: none of \$NEEDY_KEY_NOWHERE/,
    );
  });

  describe('the network', () => {
    let server: Server;
    let port: number;
    let connections = 0;
    beforeAll(async () => {
      server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => server.close());

    const probe = () =>
      [
        `(echo hi > /dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo reached || echo unreachable`,
        "echo interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')",
      ].join('; ');

    it('network: false — a namespace of its own: a listener on the host loopback is out of reach, only lo', async () => {
      const { text } = await run('box', probe(), { shell: '/bin/bash' });
      expect(text).toContain('unreachable');
      expect(text).toMatch(/interfaces: lo\r?\n/);
      expect(connections).toBe(0);
    });

    it('network on (the default) — the host loopback listener is reached', async () => {
      const { text } = await run('open', probe(), { shell: '/bin/bash' });
      expect(text).toContain('reached');
      expect(text).not.toContain('unreachable');
      await waitFor(() => connections === 1, 'the connection at the host listener');
    });
  });

  describe.runIf(!installed('claude') && STRICT)('Claude Code in the sandbox (strict mode)', () => {
    it('is installed', () => {
      throw new Error('claude is not installed: scripts/install-agents.sh (run by npm test) installs it');
    });
  });

  describe.runIf(installed('claude'))('Claude Code in the sandbox, against the fake model server', () => {
    let model: FakeModel;
    let events: Awaited<ReturnType<typeof recordEvents>>;
    const sources: string[] = [];
    let id: string;
    const project = join(workspace, 'claude-project');
    mkdirSync(project, { recursive: true });

    beforeAll(async () => {
      model = await startFakeModel();
      events = await recordEvents(client);
      client.on('session_event', ({ session }) => {
        if (session.id === id) sources.push(session.agent.source);
      });
    });
    afterAll(async () => {
      await model?.close();
    });

    it('starts idle, answers a prompt (busy → idle), runs an approved command in its workspace', async () => {
      // Its HOME (settings, onboarding done) is in the workspace: the sandbox shows no other.
      const { env } = REAL_RUNTIMES.claude.home(model.url, { trust: [project], parent: project });
      ({ sessionId: id } = await client.createSession({
        runtime: 'claude',
        substrate: 'open',
        cwd: project,
        env,
        cols: 100,
        rows: 30,
      }));
      await waitState(client, id, 'idle', 45_000);
      const said = await scriptedTurn(client, events, id, 'claude', {
        kind: 'say',
        word: 'hello from the box',
        file: '',
      });
      expect(said.problem).toBeNull();
      const ran = await scriptedTurn(client, events, id, 'claude', {
        kind: 'run',
        word: '',
        file: join(project, 'approved-file'),
      });
      expect(ran.problem).toBeNull();
      expect(await sessionInfo(client, id)).toMatchObject({ substrate: 'open', runtime: 'claude' });
    });

    it('its status came from its hooks, in-band: no hook socket was made', () => {
      expect(sources).toContain('hook');
      expect(readdirSync(stateDir)).not.toContain('hooks');
    });

    it('its hooks reach the next control plane: the host takes them out of the output', async () => {
      await daemon.stopControlPlane();
      await daemon.restart();
      client = await daemon.connect();
      events = await recordEvents(client);
      sources.length = 0;
      client.on('session_event', ({ session }) => {
        if (session.id === id) sources.push(session.agent.source);
      });
      const said = await scriptedTurn(client, events, id, 'claude', {
        kind: 'say',
        word: 'after a restart',
        file: '',
      });
      expect(said.problem).toBeNull();
      expect(sources).toContain('hook');
    });
  });
});
