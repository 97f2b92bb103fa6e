/**
 * The agents layer through the real daemon and socket: a custom runtime (the scripted agent on a real
 * PTY) for status, prompts, queueing, approval, attention, restart and dispatch; the shell runtime's
 * foreground-process status; the credential gate; and `tower hook`.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { recordEvents, scriptedRuntime, sessionInfo, waitState, writeRuntimes } from './support/agents.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;

const SECRET = 'sekret-value-7f3a9';

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime(),
    deaf: scriptedRuntime({ args: ['--deaf'] }),
    endless: scriptedRuntime({ args: ['--work-ms=600000'] }),
    gated: scriptedRuntime({
      credentials: { any_of: [{ env: 'TOWER_TEST_GATED_KEY' }], fix: 'set TOWER_TEST_GATED_KEY' },
    }),
  });
  client = await daemon.connect();
  events = await recordEvents(client);
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
});

async function spawnScripted(runtime = 'scripted', env: Record<string, string> = {}): Promise<string> {
  const { sessionId } = await client.createSession({ runtime, cwd: '/tmp', env });
  await waitState(client, sessionId, 'idle');
  return sessionId;
}

const screenText = async (id: string) => (await client.screen(id)).text;

describe('status and prompts (scripted agent, screen channel)', () => {
  it('goes starting → idle, takes a multi-line prompt as a bracketed paste, busy → idle, turn_finished', async () => {
    const { sessionId: id } = await client.createSession({ runtime: 'scripted', cwd: '/tmp' });
    expect((await sessionInfo(client, id)).agent.state).toBe('starting');
    await waitState(client, id, 'idle');
    const mark = events.attention.length;
    const prompt = await client.sendPrompt(id, 'first line\nsecond line');
    expect(prompt.state).toBe('delivering');
    const final = await events.settled(prompt.id);
    expect(final.state, final.error ?? '').toBe('delivered');
    const finished = await events.nextAttention('turn_finished', id, mark);
    expect(finished.runtime).toBe('scripted');
    expect(finished.excerpt).toContain('answer: first line | second line');
    expect(await screenText(id)).toContain('answer: first line | second line');
    expect(events.states(id)).toEqual(['starting', 'idle', 'busy', 'idle']);
    const info = await sessionInfo(client, id);
    expect(info.runtime).toBe('scripted');
    expect(info.agent).toMatchObject({ state: 'idle', source: 'screen' });
    expect(Date.parse(info.agent.since)).not.toBeNaN();
  });

  it('queues prompts for a busy agent and delivers them in order; a queued prompt can be cancelled', async () => {
    const id = await spawnScripted();
    const first = await client.sendPrompt(id, 'one');
    const second = await client.sendPrompt(id, 'two');
    const third = await client.sendPrompt(id, 'three');
    const fourth = await client.sendPrompt(id, 'four');
    expect([second.state, third.state, fourth.state]).toEqual(['queued', 'queued', 'queued']);
    const queued = (await client.prompts(id))
      .filter((prompt) => prompt.state === 'queued')
      .map((p) => p.text);
    expect(queued).toEqual(['two', 'three', 'four']);
    expect((await sessionInfo(client, id)).queued_prompts).toBe(3);
    expect((await client.cancelPrompt(third.id)).state).toBe('cancelled');
    await expect(client.cancelPrompt(third.id)).rejects.toMatchObject({ code: 'prompt_not_queued' });
    await expect(client.cancelPrompt('p-nonexistent')).rejects.toMatchObject({ code: 'unknown_prompt' });
    for (const prompt of [first, second, fourth])
      expect((await events.settled(prompt.id)).state).toBe('delivered');
    await waitState(client, id, 'idle');
    const answers = (await screenText(id)).split('\n').filter((line) => line.startsWith('answer:'));
    expect(answers).toEqual(['answer: one', 'answer: two', 'answer: four']);
  });

  it('shows needs_input for an approval dialog, with the dialog line as excerpt; answering moves it on', async () => {
    const id = await spawnScripted();
    const mark = events.attention.length;
    await client.sendPrompt(id, 'ask to delete');
    const needs = await events.nextAttention('needs_input', id, mark);
    expect(needs.excerpt).toContain('Do you want to proceed?');
    expect((await sessionInfo(client, id)).agent.state).toBe('needs_input');
    // A prompt sent during the dialog waits: it must not be typed into the dialog.
    const waiting = await client.sendPrompt(id, 'after approval');
    expect(waiting.state).toBe('queued');
    await client.write(id, 'y');
    expect((await events.settled(waiting.id)).state).toBe('delivered');
    await waitState(client, id, 'idle');
    const screen = await screenText(id);
    expect(screen).toContain('approved: ask to delete');
    expect(screen).toContain('answer: after approval');
    expect(events.states(id)).toEqual(expect.arrayContaining(['needs_input', 'busy', 'idle']));
  });

  it('holds at most 100 queued prompts per session; the next one is refused with queue_full', async () => {
    const id = await spawnScripted('endless');
    const first = await client.sendPrompt(id, 'a turn that never ends');
    expect((await events.settled(first.id)).state).toBe('delivered');
    await waitState(client, id, 'busy');
    const queued = await Promise.all(Array.from({ length: 100 }, (_, i) => client.sendPrompt(id, `q${i}`)));
    expect(queued.every((prompt) => prompt.state === 'queued')).toBe(true);
    await expect(client.sendPrompt(id, 'one too many')).rejects.toMatchObject({
      code: 'queue_full',
      message: expect.stringContaining('already holds 100 queued prompts'),
    });
    await client.cancelPrompt(queued[0]!.id);
    expect((await client.sendPrompt(id, 'room again')).state).toBe('queued');
  });

  it('retries the submit key, then reports a prompt the agent never takes as failed, with an error event', async () => {
    const id = await spawnScripted('deaf', { SCRIPTED_AGENT_DEAF: '1' });
    const mark = events.attention.length;
    const prompt = await client.sendPrompt(id, 'nobody hears this');
    const final = await events.settled(prompt.id, 30_000);
    expect(final.state).toBe('failed');
    expect(final.attempts).toBe(3);
    expect(final.error).toMatch(/did not take the prompt after 3 submits/);
    expect(final.error).toContain('nobody hears this');
    const error = await events.nextAttention('error', id, mark);
    expect(error.excerpt).toContain('prompt not delivered');
  });

  it('reports exited (and error for a non-zero exit) as attention events', async () => {
    const id = await spawnScripted();
    const mark = events.attention.length;
    await client.write(id, '\x03');
    const exited = await events.nextAttention('exited', id, mark);
    expect(exited.excerpt).toBe('exited with code 0');
    expect((await sessionInfo(client, id)).agent).toMatchObject({ state: 'exited', source: 'exit' });
    await expect(client.sendPrompt(id, 'too late')).rejects.toMatchObject({ code: 'session_not_running' });
    const { sessionId: failing } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'exit 3'] });
    const error = await events.nextAttention('error', failing, mark);
    expect(error.excerpt).toBe('exited with code 3');
  });
});

describe('the shell runtime', () => {
  it('is busy while a command runs in the foreground and idle at the prompt', async () => {
    const { sessionId: id } = await client.createSession({ runtime: 'shell', cwd: '/tmp', shell: undefined });
    await waitState(client, id, 'idle');
    const prompt = await client.sendPrompt(id, 'sleep 1.5; echo slept-$((6*7))');
    expect((await events.settled(prompt.id)).state).toBe('delivered');
    // Tower assumes busy once it submitted ('prompt submitted'); the foreground process then names it.
    await waitFor(
      async () => (await sessionInfo(client, id)).agent.reason === 'running sleep',
      'the shell to be busy running sleep',
    );
    expect((await sessionInfo(client, id)).agent.state).toBe('busy');
    await waitState(client, id, 'idle');
    expect(await screenText(id)).toContain('slept-42');
  });
});

describe('runtime registry and credential gate', () => {
  it('lists every built-in runtime and the custom ones, ready or blocked with the fix', async () => {
    const runtimes = await client.runtimes();
    const names = runtimes.map((runtime) => runtime.name);
    expect(names).toEqual(
      expect.arrayContaining(['shell', 'claude', 'codex', 'gemini', 'aider', 'goose', 'opencode']),
    );
    expect(runtimes.find((r) => r.name === 'shell')).toMatchObject({
      ready: true,
      status_channel: 'process',
    });
    expect(runtimes.find((r) => r.name === 'scripted')).toMatchObject({
      custom: true,
      ready: true,
      can_resume: true,
    });
    const gated = runtimes.find((r) => r.name === 'gated')!;
    expect(gated).toMatchObject({ installed: true, ready: false, fix: 'set TOWER_TEST_GATED_KEY' });
    expect(gated.missing[0]).toContain('$TOWER_TEST_GATED_KEY');
  });

  it('blocks a spawn at once with what is missing and how to fix it; never stores or returns a secret', async () => {
    const before = (await client.list()).length;
    await expect(client.createSession({ runtime: 'gated' })).rejects.toMatchObject({
      code: 'runtime_blocked',
      message: expect.stringMatching(
        /cannot start gated: .*TOWER_TEST_GATED_KEY.*Fix: set TOWER_TEST_GATED_KEY/,
      ),
    });
    expect((await client.list()).length).toBe(before);
    const id = await spawnScripted('gated', { TOWER_TEST_GATED_KEY: SECRET });
    const everything = JSON.stringify([await client.list(), await client.runtimes(), await client.prompts()]);
    expect(everything).not.toContain(SECRET);
    for (const file of readdirSync(daemon.stateDir)) {
      if (file.startsWith('tower.db'))
        expect(readFileSync(join(daemon.stateDir, file)).includes(SECRET)).toBe(false);
    }
    expect((await sessionInfo(client, id)).status).toBe('running');
  });

  it('rejects an unknown runtime, and names the bad field of a broken runtimes.json', async () => {
    await expect(client.createSession({ runtime: 'nope' })).rejects.toMatchObject({
      code: 'unknown_runtime',
    });
    const broken = await startTestDaemon({ serveArgs: ['--no-http'] });
    try {
      writeRuntimes(broken.stateDir, { mine: { command: 42, status: { quiet_ms: 'soon' } } });
      const other = await broken.connect();
      const names = (await other.runtimes()).map((runtime) => runtime.name);
      expect(names).toContain('shell');
      expect(names).not.toContain('mine');
      const error = await other.createSession({ runtime: 'mine' }).catch((e: Error) => e);
      expect(error.message).toMatch(/runtimes\.json: runtimes\.mine\.command: .*string/);
      expect(error.message).toContain('runtimes.mine.status.quiet_ms');
      other.end();
    } finally {
      await broken.dispose();
    }
  });
});

describe('bad agent requests', () => {
  it('get clear errors and leave the daemon and other sessions working', async () => {
    const id = await spawnScripted();
    await expect(client.sendPrompt('nope', 'x')).rejects.toMatchObject({ code: 'unknown_session' });
    await expect(client.sendPrompt(id, '')).rejects.toMatchObject({
      code: 'bad_message',
      message: expect.stringContaining('text: must not be empty'),
    });
    await expect(client.dispatch({ runtime: 'nope', text: 'x' })).rejects.toMatchObject({
      code: 'unknown_runtime',
    });
    await expect(client.dispatch({ runtime: 'Bad Name!', text: 'x' })).rejects.toMatchObject({
      code: 'bad_message',
    });
    await expect(client.restart('nope')).rejects.toMatchObject({ code: 'unknown_session' });
    await expect(
      client.request({ type: 'agent_signal', session_id: id, source: 'nope', event: 'Stop' }),
    ).rejects.toMatchObject({ code: 'unknown_runtime' });
    await expect(
      client.request({
        type: 'agent_signal',
        session_id: id,
        source: 'claude',
        event: 'Stop',
        payload: [] as never,
      }),
    ).rejects.toMatchObject({ code: 'bad_message' });
    const prompt = await client.sendPrompt(id, 'still here');
    expect((await events.settled(prompt.id)).state).toBe('delivered');
  });
});

describe('tower hook', () => {
  it('without $TOWER_SIGNAL_KEY (a host before in-band signals) reports over the socket', async () => {
    const id = await spawnScripted();
    const mark = events.attention.length;
    const payload = JSON.stringify({
      hook_event_name: 'Notification',
      message: 'Claude needs your permission to use Bash',
      prompt: 'a prompt the hook must not forward',
    });
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [TOWER_BIN, '--state-dir', daemon.stateDir, 'hook', 'claude'], {
        env: { ...process.env, TOWER_SESSION_ID: id },
        stdio: ['pipe', 'inherit', 'inherit'],
      });
      child.stdin.end(payload);
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    const needs = await events.nextAttention('needs_input', id, mark);
    expect(needs.excerpt).toBe('Claude needs your permission to use Bash');
    expect((await sessionInfo(client, id)).agent).toMatchObject({ state: 'needs_input', source: 'hook' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
