/**
 * The real Claude Code on remote substrates, against the fake model server on 127.0.0.1: `loopback`
 * (this machine reached as a box, over the bridge every box uses), `ssh` (a real sshd on 127.0.0.1;
 * the box's Tower is bootstrapped on first use) and `docker` (a container from the test engine's
 * image, with the host network; Claude Code's binary comes in its workspace). It runs in the session
 * host of the box, given only the spawn's variables; its hooks report through the box's own `tower
 * hook` ($TOWER_HOOK) on its terminal, so its status is right: busy then idle after a prompt with the
 * answer as the excerpt, needs_input on a permission dialog. Restart runs it there again, resuming;
 * dispatch --on gives a prompt to it; the credential gate looks on the box.
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claude } from '../dist/agents/runtimes/claude.js';
import type { TowerClient } from '../dist/client/client.js';
import type { AgentState } from '../dist/protocol/index.js';
import { AGENTS_BIN, agentBin } from './support/agent-home.js';
import { recordEvents, sessionInfo, waitState } from './support/agents.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN, waitFor } from './support/daemon.js';
import { DOCKERD, dockerCli, failWithoutDockerd } from './support/dockerd.js';
import { type FakeModel, startFakeModel } from './support/fake-model.js';
import { installed, REAL_RUNTIMES, STRICT, scriptedTurn } from './support/real-agents.js';
import { failWithoutSshd, HAVE_SSHD, startSshd, type TestSshd } from './support/sshd.js';
import { writeSubstrates } from './support/substrates.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-agents-remote-'));
const boxState = join(scratch, 'box-state');
const sshBoxState = join(scratch, 'ssh-box-state');
/** The docker box's workspace, mounted at the same path in the container: paths mean the same on both. */
const workspace = join(scratch, 'ws');
const CONTAINER = `tower-agents-remote-${process.pid}`;

interface Target {
  substrate: string;
  /** Where the agent runs, a path on the box (and here: the box sees this machine's files). */
  cwd: string;
  /** Its programs: PATH as the box sees it. */
  path: () => string;
}

const TARGETS: Target[] = [
  { substrate: 'lb', cwd: join(scratch, 'project'), path: () => `${AGENTS_BIN}:${process.env.PATH}` },
  ...(HAVE_SSHD
    ? [
        {
          substrate: 'devbox',
          cwd: join(scratch, 'project-ssh'),
          path: () => `${AGENTS_BIN}:${process.env.PATH}`,
        },
      ]
    : []),
  ...(DOCKERD
    ? [
        {
          substrate: 'ctr',
          cwd: join(workspace, 'project'),
          path: () => `${join(workspace, 'bin')}:/usr/bin:/bin`,
        },
      ]
    : []),
];

let sshd: TestSshd | undefined;
let model: FakeModel;
let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;
const sources = new Map<string, Array<{ state: AgentState; source: string }>>();

beforeAll(async () => {
  if (!installed('claude')) return;
  for (const target of TARGETS) mkdirSync(target.cwd, { recursive: true });
  // The container has no Claude Code: the workspace carries it (a hard link, no copy of 200 MB).
  mkdirSync(join(workspace, 'bin'));
  linkSync(realpathSync(agentBin('claude')!), join(workspace, 'bin', 'claude'));
  model = await startFakeModel();
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  if (HAVE_SSHD) sshd = await startSshd();
  const knownHosts = join(scratch, 'known_hosts');
  if (sshd) writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
  // This machine over SSH: the box's Tower is bootstrapped into the ssh user's ~/.tower on first use.
  const ssh = sshd && {
    name: 'devbox',
    type: 'ssh',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identity: sshd.userKey,
    agent: false,
    known_hosts: knownHosts,
    // Its own session host on the box (this machine), stopped at the end: not the ssh user's shared one.
    state_dir: sshBoxState,
  };
  const docker = {
    name: 'ctr',
    type: 'docker',
    image: DOCKERD?.image,
    docker_host: DOCKERD?.dockerHost,
    container: CONTAINER,
    workspace,
    workdir: workspace,
    // The fake model server listens on this machine's 127.0.0.1.
    network: 'host',
  };
  writeSubstrates(daemon.stateDir, [
    { name: 'lb', type: 'loopback', state_dir: boxState },
    ...(ssh ? [ssh] : []),
    ...(DOCKERD ? [docker] : []),
  ]);
  client = await daemon.connect();
  events = await recordEvents(client);
  client.on('session_event', ({ event, session }) => {
    if (event !== 'status') return;
    sources.set(session.id, [...(sources.get(session.id) ?? []), session.agent]);
  });
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
  await model?.close();
  try {
    execFileSync(process.execPath, [TOWER_BIN, '--state-dir', boxState, 'host', 'stop'], { stdio: 'ignore' });
  } catch {}
  try {
    execFileSync(process.execPath, [TOWER_BIN, '--state-dir', sshBoxState, 'host', 'stop'], {
      stdio: 'ignore',
    });
  } catch {}
  if (DOCKERD) dockerCli('rm', '-f', CONTAINER);
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe.runIf(!installed('claude') && STRICT)('claude on a remote substrate (strict mode)', () => {
  it('is installed', () => {
    throw new Error('claude is not installed: scripts/install-agents.sh (run by npm test) installs it');
  });
});
failWithoutDockerd('Claude Code on a docker substrate');
failWithoutSshd('Claude Code on an ssh substrate');

for (const { substrate, cwd, path } of TARGETS)
  describe.runIf(installed('claude'))(`Claude Code on a remote substrate (${substrate})`, () => {
    let env: Record<string, string>;
    let id: string;

    beforeAll(async () => {
      if (substrate === 'ctr') {
        await client.substrateLifecycle(substrate, 'provision');
        await client.substrateLifecycle(substrate, 'wake');
      }
      const parent = substrate === 'ctr' ? workspace : scratch;
      env = { ...REAL_RUNTIMES.claude.home(model.url, { trust: [cwd], parent }).env, PATH: path() };
    });

    it('goes idle, answers a prompt (busy → idle, its end from the Stop hook), the answer as the excerpt', async () => {
      ({ sessionId: id } = await client.createSession({
        runtime: 'claude',
        cwd,
        env,
        substrate,
        cols: 100,
        rows: 30,
      }));
      const ready = await waitState(client, id, 'idle', 45_000);
      expect(ready).toMatchObject({ runtime: 'claude', substrate });
      // A slow start can draw a spinner, then the prompt: a turn of its own, not this one.
      const mark = events.attention.length;
      const result = await scriptedTurn(client, events, id, 'claude', {
        kind: 'say',
        word: 'hello from the box',
        file: '',
      });
      expect(result.problem).toBeNull();
      const finished = events.attention
        .slice(mark)
        .filter((e) => e.session_id === id && e.kind === 'turn_finished');
      expect(finished[0]!.excerpt).toContain('hello from the box');
      // The turn's end came from the Stop hook, run by the box's `tower hook`, not read off the screen.
      expect(sources.get(id)).toContainEqual(expect.objectContaining({ state: 'idle', source: 'hook' }));
    });

    it('shows needs_input on a permission dialog, naming the tool', async () => {
      const file = join(cwd, 'approved-on-box');
      const mark = events.attention.length;
      const result = await scriptedTurn(client, events, id, 'claude', { kind: 'run', word: '', file });
      expect(result.problem).toBeNull();
      const needs = events.attention
        .slice(mark)
        .find((e) => e.session_id === id && e.kind === 'needs_input')!;
      // The command when the dialog is drawn in time, else what the PermissionRequest hook named.
      expect(needs.excerpt).toMatch(/Bash/);
    });

    it('takes a prompt given with dispatch --on the substrate', async () => {
      const reply = await client.dispatch({ runtime: 'claude', substrate, text: 'say dispatched there' });
      expect(reply).toMatchObject({ session_id: id, spawned: false });
      await events.settled(reply.prompt.id, 60_000);
      await waitFor(
        async () => (await client.screen(id)).text.includes('dispatched there'),
        'the answer',
        45_000,
      );
      await waitState(client, id, 'idle', 30_000);
    });

    it('restarts on the same substrate, resuming the conversation', async () => {
      const newId = await client.restart(id);
      const info = await waitState(client, newId, 'idle', 45_000);
      expect(info).toMatchObject({ resumed_from: id, substrate, runtime: 'claude' });
      await waitFor(
        async () => (await client.screen(newId)).text.includes('hello from the box'),
        'the resumed conversation on screen',
        15_000,
      );
      const result = await scriptedTurn(client, events, newId, 'claude', {
        kind: 'say',
        word: 'after resume on the box',
        file: '',
      });
      expect(result.problem).toBeNull();
      await client.close(newId);
      expect((await sessionInfo(client, id)).status).toBe('exited');
    });

    it('is blocked by the credential gate on the box when the spawn gives it no upstream', async () => {
      const bare = mkdtempSync(join(substrate === 'ctr' ? workspace : scratch, 'bare-home-'));
      const error = await client
        .createSession({ runtime: 'claude', cwd, env: { PATH: env.PATH!, HOME: bare }, substrate })
        .catch((e: Error) => e);
      expect(error).toMatchObject({ code: 'runtime_blocked' });
      expect((error as Error).message).toMatch(
        new RegExp(`^cannot start claude on substrate ${substrate}: no model upstream`),
      );
    });
  });

describe.runIf(installed('claude'))('Claude Code on a box with no Tower (lb, without $TOWER_HOOK)', () => {
  it('on a box with no Tower to run (tmux keeps its sessions), the Stop hook still reports idle', async () => {
    const stop = JSON.parse(
      claude.launch!({
        sessionId: 'x',
        cwd: '~',
        stateDir: '/nowhere',
        hookCommand: [],
        env: {},
        remote: true,
      }).args[1]!,
    ).hooks.Stop[0].hooks[0].command as string;
    const hook = `echo '{"hook_event_name":"Stop"}' | env -u TOWER_HOOK sh -c '${stop.replaceAll("'", `'\\''`)}'`;
    const { sessionId } = await client.createSession({
      substrate: 'lb',
      shell: '/bin/sh',
      args: ['-c', `sleep 0.3; ${hook}; exec sleep 60`],
    });
    await waitFor(
      () => sources.get(sessionId)?.some((s) => s.state === 'idle' && s.source === 'hook'),
      'idle from the Stop hook',
    );
    await client.close(sessionId);
  });
});
