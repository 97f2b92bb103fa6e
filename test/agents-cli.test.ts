/**
 * Agent commands of the real `tower` CLI against the real daemon: spawn by runtime, agents,
 * send --prompt, prompts, broadcast, dispatch, restart, events — and resuming lost sessions
 * after the daemon is killed (serve --resume-lost). The agent is the scripted one (a custom runtime).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { scriptedRuntime, sessionInfo, waitState, writeRuntimes } from './support/agents.js';
import { cliEnv, describeResult, killLeftovers, runCli, runCliOk, startCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  // A turn of the scripted agent lasts 3 s: long enough that a prompt sent by the next CLI command
  // still finds it busy, even on a loaded machine.
  daemon = await startTestDaemon({
    serveArgs: ['--no-http', '--resume-lost'],
    env: { SCRIPTED_AGENT_WORK_MS: '3000' },
  });
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime(),
    // Turns long enough to outlast starting the next CLI on a loaded machine.
    unhurried: scriptedRuntime({ args: ['--work-ms=3000'] }),
    keyed: {
      description: 'needs TOWER_TEST_KEY',
      command: '/bin/sh',
      args: ['-c', 'echo "key=[$TOWER_TEST_KEY]"; sleep 120'],
      credentials: { any_of: [{ env: 'TOWER_TEST_KEY' }], fix: 'set TOWER_TEST_KEY' },
    },
  });
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
});

const ok = (...args: string[]) => runCliOk(daemon.stateDir, args);

async function spawnScripted(...extra: string[]): Promise<string> {
  const id = (await ok('spawn', 'scripted', '--cwd', '/tmp', ...extra)).stdout.trim();
  await waitState(client, id, 'idle');
  return id;
}

const answers = async (id: string) =>
  (await client.screen(id)).text.split('\n').filter((line) => line.startsWith('answer:'));

describe('tower spawn and tower agents', () => {
  it('spawns a runtime by name with extra arguments after --, and a plain command otherwise', async () => {
    const id = await spawnScripted('--', '--resumed');
    const info = await sessionInfo(client, id);
    expect(info).toMatchObject({ runtime: 'scripted', args: ['--resumed'], cwd: '/tmp' });
    expect((await client.screen(id)).text).toContain('scripted agent 1.0 (resumed)');
    const plain = (await ok('spawn', 'sleep', '30')).stdout.trim();
    expect(await sessionInfo(client, plain)).toMatchObject({ runtime: null, args: ['30'] });
    const shell = (await ok('spawn')).stdout.trim();
    expect((await sessionInfo(client, shell)).runtime).toBe('shell');
  });

  it('lists runtimes with their state, and as JSON', async () => {
    const { stdout } = await ok('agents');
    expect(stdout.split('\n')[0]).toMatch(/^RUNTIME\s+STATE\s+VERSION\s+STATUS FROM\s+DETAIL$/);
    expect(stdout).toMatch(/^shell\s+ready\s+process/m);
    expect(stdout).toMatch(/^scripted \(custom\)\s+ready/m);
    const json = JSON.parse((await ok('agents', '--json')).stdout) as { name: string }[];
    expect(json.map((runtime) => runtime.name)).toContain('opencode');
  });
});

describe('tower spawn --env', () => {
  /** The variable exists only in the CLI's environment, never in the daemon's. */
  const callerEnv = cliEnv({ TOWER_TEST_KEY: 'from-the-caller' });
  const spawnKeyed = (...extra: string[]) =>
    runCli(daemon.stateDir, ['spawn', 'keyed', ...extra], { env: callerEnv });
  const keyLine = async (id: string) => {
    await waitFor(async () => (await client.screen(id)).text.includes('key=['), 'the key line');
    return (await client.screen(id)).text.split('\n').find((line) => line.startsWith('key='));
  };

  it('the gate says where it looked: the daemon environment and the names given, never values', async () => {
    const blocked = await spawnKeyed('--env', 'OTHER_NAME=secret-value-123');
    expect(blocked.code, describeResult(blocked)).toBe(1);
    expect(blocked.stderr).toContain('$TOWER_TEST_KEY');
    expect(blocked.stderr).toContain("daemon's environment");
    expect(blocked.stderr).toContain('OTHER_NAME');
    expect(blocked.stderr).not.toContain('secret-value-123');
  });

  it("--env NAME passes the caller's value, --env NAME=VALUE sets one; both pass the gate", async () => {
    const passed = await spawnKeyed('--env', 'TOWER_TEST_KEY');
    expect(passed.code, describeResult(passed)).toBe(0);
    expect(await keyLine(passed.stdout.trim())).toBe('key=[from-the-caller]');
    const set = await spawnKeyed('--env', 'TOWER_TEST_KEY=given', '--env', 'OTHER=1');
    expect(set.code, describeResult(set)).toBe(0);
    expect(await keyLine(set.stdout.trim())).toBe('key=[given]');
  });

  it('--env NAME fails clearly when the caller has no such variable', async () => {
    const result = await spawnKeyed('--env', 'TOWER_NOT_SET_ANYWHERE');
    expect(result.code, describeResult(result)).toBe(2);
    expect(result.stderr).toContain('TOWER_NOT_SET_ANYWHERE');
    expect(result.stderr).toMatch(/not set/);
  });
});

describe('tower send --prompt, prompts and broadcast', () => {
  it('delivers a prompt and exits once it is taken; says queued for a busy agent', async () => {
    // A turn long enough to outlast starting the next CLI on a loaded machine.
    const id = await spawnScripted('--', '--work-ms=4000');
    const first = await ok('send', id, '--prompt', 'hello there');
    expect(first.stdout).toBe('');
    const queued = await ok('send', id, '--prompt', 'while busy');
    expect(queued.stdout).toMatch(/^queued p-[0-9a-f]+: the agent is not idle/);
    const list = await ok('prompts', id);
    expect(list.stdout).toMatch(/delivered .*hello there/);
    await waitFor(async () => (await answers(id)).length === 2, 'both answers', 30_000);
    expect(await answers(id)).toEqual(['answer: hello there', 'answer: while busy']);
  });

  it('never glues a prompt onto the user draft: says it waits, and the agent gets each on its own', async () => {
    const id = await spawnScripted();
    await ok('send', id, 'half typed ');
    await waitFor(async () => (await client.screen(id)).text.includes('ready> half typed'), 'the draft');
    const queued = await ok('send', id, '--prompt', 'do X');
    expect(queued.stdout).toMatch(/^queued p-[0-9a-f]+: the input line holds a draft/);
    expect((await ok('prompts', id)).stdout).toMatch(/queued \(the input line holds a draft/);
    expect(await answers(id)).toEqual([]);
    await ok('send', id, '--enter', '');
    await waitFor(async () => (await answers(id)).length === 2, 'both answers', 15_000);
    expect(await answers(id)).toEqual(['answer: half typed', 'answer: do X']);
  });

  it('fails with the reason for a session that is not running', async () => {
    const result = await runCli(daemon.stateDir, ['send', 'nope', '--prompt', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown session: nope');
  });

  it('broadcasts one prompt to several sessions', async () => {
    const a = await spawnScripted();
    const b = await spawnScripted();
    const { stdout } = await ok('broadcast', a, b, 'to everyone');
    expect(stdout).toMatch(new RegExp(`^${a}\\tp-[0-9a-f]+\\tdelivering$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^${b}\\tp-[0-9a-f]+\\tdelivering$`, 'm'));
    for (const id of [a, b]) {
      await waitFor(async () => (await answers(id)).includes('answer: to everyone'), `answer in ${id}`);
    }
    const partly = await runCli(daemon.stateDir, ['broadcast', a, 'missing-id', 'again']);
    expect(partly.code).toBe(1);
    expect(partly.stdout).toContain('missing-id\t-\tfailed: unknown session: missing-id');
  });
});

describe('tower dispatch', () => {
  it('uses an idle session, spawns when none is idle, and queues once the limit is reached', async () => {
    const cwd = '/usr';
    const dispatch = async (text: string) =>
      (await ok('dispatch', '--runtime', 'unhurried', '--cwd', cwd, '--max', '2', text)).stdout.trim();
    const first = await dispatch('d1');
    await waitFor(async () => (await answers(first)).includes('answer: d1'), 'd1 answered', 15_000);
    await waitState(client, first, 'idle');
    expect(await dispatch('d2')).toBe(first);
    // first is busy with d2: a second session is started.
    const second = await dispatch('d3');
    expect(second).not.toBe(first);
    expect(await sessionInfo(client, second)).toMatchObject({ runtime: 'unhurried', cwd });
    // both busy or starting, limit 2: queued on one of them.
    const third = await dispatch('d4');
    expect([first, second]).toContain(third);
    await waitFor(
      async () => [...(await answers(first)), ...(await answers(second))].length === 4,
      'all four answers',
      30_000,
    );
  });
});

describe('dispatch --wait and send --prompt --wait', () => {
  it('say when the agent waits on a dialog, then finish once the prompt is delivered', async () => {
    const cwd = '/var';
    const id = (await ok('spawn', 'scripted', '--cwd', cwd)).stdout.trim();
    await waitState(client, id, 'idle');
    await ok('send', id, '--prompt', 'ask first');
    await waitState(client, id, 'needs_input');
    const dispatch = startCli(daemon.stateDir, [
      'dispatch',
      '--runtime',
      'scripted',
      '--cwd',
      cwd,
      '--max',
      '1',
      '--wait',
      'after the dialog',
    ]);
    await waitFor(() => dispatch.stderr().includes('Do you want to proceed'), 'the dialog notice');
    expect(dispatch.stderr()).toContain(id);
    expect(dispatch.stdout()).toBe(`${id}\n`);
    expect(dispatch.child.exitCode).toBe(null);
    await ok('send', id, 'y');
    const result = await dispatch.done;
    expect(result.code, describeResult(result)).toBe(0);
    await waitFor(async () => (await answers(id)).includes('answer: after the dialog'), 'the answer', 15_000);
  });
});

describe('tower restart and resuming lost sessions', () => {
  it('relaunches in the same cwd with the resume flag, linked to the old session', async () => {
    const id = await spawnScripted();
    const newId = (await ok('restart', id)).stdout.trim();
    expect(newId).not.toBe(id);
    const info = await waitState(client, newId, 'idle');
    expect(info).toMatchObject({ resumed_from: id, cwd: '/tmp', runtime: 'scripted' });
    expect((await client.screen(newId)).text).toContain('(resumed)');
    expect((await sessionInfo(client, id)).status).toBe('exited');
    const fresh = (await ok('restart', newId, '--fresh')).stdout.trim();
    await waitState(client, fresh, 'idle');
    expect((await client.screen(fresh)).text).not.toContain('(resumed)');
  });

  it('prints attention events as they happen', async () => {
    const watcher = startCli(daemon.stateDir, ['events', '--json']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const id = await spawnScripted();
    await ok('send', id, '--prompt', 'ask first');
    // Events from before it started are replayed first: pick this session's.
    const ours = () =>
      watcher
        .stdout()
        .split('\n')
        .find((l) => l.includes('"needs_input"') && l.includes(id));
    await waitFor(ours, 'needs_input event line');
    const line = ours()!;
    expect(JSON.parse(line)).toMatchObject({ kind: 'needs_input', session_id: id, runtime: 'scripted' });
    watcher.child.kill();
  });

  it('after kill -9, serve --resume-lost relaunches lost agent sessions with the resume flag', async () => {
    const id = await spawnScripted();
    const shell = (await ok('spawn', 'sleep', '60')).stdout.trim();
    client.end();
    await daemon.crash();
    await daemon.restart();
    client = await daemon.connect();
    const sessions = await client.list();
    expect(sessions.find((s) => s.id === id)).toMatchObject({ status: 'lost', agent: { state: 'exited' } });
    const resumed = sessions.find((s) => s.resumed_from === id);
    expect(resumed, JSON.stringify(sessions)).toMatchObject({
      status: 'running',
      runtime: 'scripted',
      cwd: '/tmp',
    });
    await waitState(client, resumed!.id, 'idle');
    expect((await client.screen(resumed!.id)).text).toContain('(resumed)');
    // A plain command has no resume flag: it stays lost, its output readable, until restarted by hand.
    expect(sessions.some((s) => s.resumed_from === shell)).toBe(false);
    const again = (await ok('restart', shell)).stdout.trim();
    expect(await sessionInfo(client, again)).toMatchObject({
      resumed_from: shell,
      status: 'running',
      runtime: null,
      shell: 'sleep',
      args: ['60'],
    });
  });
});
