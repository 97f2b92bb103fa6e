/**
 * The real Claude Code on a remote substrate, against the fake model server on 127.0.0.1: it runs in
 * the session host of a box (here `loopback`: this machine reached as a box, over the same bridge an
 * ssh or docker substrate uses), given only the spawn's variables; its hooks report through the box's
 * own `tower hook` ($TOWER_HOOK) on its terminal, so its status is right: busy then idle after a
 * prompt with the answer as the excerpt, needs_input on a permission dialog. Restart runs it there
 * again, resuming; dispatch --on gives a prompt to it; the credential gate looks on the box.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claude } from '../dist/agents/runtimes/claude.js';
import type { TowerClient } from '../dist/client/client.js';
import type { AgentState } from '../dist/protocol/index.js';
import { recordEvents, sessionInfo, waitState } from './support/agents.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN, waitFor } from './support/daemon.js';
import { type FakeModel, startFakeModel } from './support/fake-model.js';
import { installed, REAL_RUNTIMES, STRICT, scriptedTurn } from './support/real-agents.js';
import { writeSubstrates } from './support/substrates.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-agents-remote-'));
const boxState = join(scratch, 'box-state');
const cwd = join(scratch, 'project');
mkdirSync(cwd);

let model: FakeModel;
let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;
const sources = new Map<string, Array<{ state: AgentState; source: string }>>();

beforeAll(async () => {
  if (!installed('claude')) return;
  model = await startFakeModel();
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeSubstrates(daemon.stateDir, [{ name: 'lb', type: 'loopback', state_dir: boxState }]);
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
  rmSync(scratch, { recursive: true, force: true });
});

describe.runIf(!installed('claude') && STRICT)('claude on a remote substrate (strict mode)', () => {
  it('is installed', () => {
    throw new Error('claude is not installed: scripts/install-agents.sh (run by npm test) installs it');
  });
});

describe.runIf(installed('claude'))('Claude Code on a remote substrate', () => {
  let env: Record<string, string>;
  let id: string;

  beforeAll(() => {
    env = REAL_RUNTIMES.claude.home(model.url, { trust: [cwd], parent: scratch }).env;
  });

  it('goes idle, answers a prompt (busy → idle, its end from the Stop hook), the answer as the excerpt', async () => {
    ({ sessionId: id } = await client.createSession({
      runtime: 'claude',
      cwd,
      env,
      substrate: 'lb',
      cols: 100,
      rows: 30,
    }));
    const ready = await waitState(client, id, 'idle', 45_000);
    expect(ready).toMatchObject({ runtime: 'claude', substrate: 'lb' });
    const result = await scriptedTurn(client, events, id, 'claude', {
      kind: 'say',
      word: 'hello from the box',
      file: '',
    });
    expect(result.problem).toBeNull();
    const finished = events.attention.filter((e) => e.session_id === id && e.kind === 'turn_finished');
    expect(finished[0]!.excerpt).toContain('hello from the box');
    // The turn's end came from the Stop hook, run by the box's `tower hook`, not read off the screen.
    expect(sources.get(id)).toContainEqual(expect.objectContaining({ state: 'idle', source: 'hook' }));
  });

  it('shows needs_input on a permission dialog, naming the tool', async () => {
    const file = join(cwd, 'approved-on-box');
    const mark = events.attention.length;
    const result = await scriptedTurn(client, events, id, 'claude', { kind: 'run', word: '', file });
    expect(result.problem).toBeNull();
    const needs = events.attention.slice(mark).find((e) => e.session_id === id && e.kind === 'needs_input')!;
    // The command when the dialog is drawn in time, else what the PermissionRequest hook named.
    expect(needs.excerpt).toMatch(/Bash/);
  });

  it('takes a prompt given with dispatch --on the substrate', async () => {
    const reply = await client.dispatch({ runtime: 'claude', substrate: 'lb', text: 'say dispatched there' });
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
    expect(info).toMatchObject({ resumed_from: id, substrate: 'lb', runtime: 'claude' });
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

  it('is blocked by the credential gate on the box when the spawn gives it no upstream', async () => {
    const bare = mkdtempSync(join(scratch, 'bare-home-'));
    const error = await client
      .createSession({ runtime: 'claude', cwd, env: { PATH: env.PATH!, HOME: bare }, substrate: 'lb' })
      .catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'runtime_blocked' });
    expect((error as Error).message).toMatch(/^cannot start claude on substrate lb: no model upstream/);
  });
});
