/**
 * What the web workspace needs from the daemon to answer agents, through the real daemon and socket:
 * each runtime's answer keys, an approval named by what it asks, no attention for a session ended
 * through Tower, and `~` in a working directory.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { recordEvents, scriptedRuntime, sessionInfo, waitState, writeRuntimes } from './support/agents.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;
/** The daemon's HOME: `~` in a cwd means this directory. */
const home = mkdtempSync(join(tmpdir(), 'tower-home-'));
mkdirSync(join(home, 'proj'));

const SCRIPTED_STATUS = { busy: ['esc to interrupt'], idle: ['^ready>$'], quiet_ms: 400 };

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'], env: { HOME: home } });
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime({ answers: { approve: '1', deny: '\x1b' } }),
    // Its dialog is seen on screen, and a pattern names what it asks.
    asker: scriptedRuntime({
      status: { ...SCRIPTED_STATUS, needs_input: ['^Do you want to proceed'], ask: ['^Tool call: (.+)'] },
    }),
    // Its dialog is known only from a hook (no needs_input pattern); the screen still names it.
    hooked: scriptedRuntime({ status: { ...SCRIPTED_STATUS, ask: ['^Tool call: (.+)'] } }),
  });
  client = await daemon.connect();
  events = await recordEvents(client);
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
  rmSync(home, { recursive: true, force: true });
});

async function spawnAgent(runtime: string): Promise<string> {
  const { sessionId } = await client.createSession({ runtime, cwd: '/tmp' });
  await waitState(client, sessionId, 'idle');
  return sessionId;
}

describe('answer keys', () => {
  it('every runtime that asks for approval lists the keys that approve and deny (Esc denies); the shell has none', async () => {
    const answers = Object.fromEntries((await client.runtimes()).map((r) => [r.name, r.answers]));
    expect(answers.claude).toEqual({ approve: '1', deny: '\x1b' });
    expect(answers.codex).toEqual({ approve: 'y', deny: '\x1b' });
    expect(answers.gemini).toEqual({ approve: '\r', deny: '\x1b' });
    expect(answers.opencode).toEqual({ approve: '\r', deny: '\x1b' });
    expect(answers.shell).toBeNull();
    expect(answers.scripted).toEqual({ approve: '1', deny: '\x1b' });
  });
});

describe('what an approval asks', () => {
  it('a dialog seen on screen is named by what it asks, in the attention event and the status', async () => {
    const id = await spawnAgent('asker');
    const mark = events.attention.length;
    await client.sendPrompt(id, 'ask to delete the build');
    const needs = await events.nextAttention('needs_input', id, mark);
    expect(needs.excerpt).toBe('ask to delete the build');
    expect((await sessionInfo(client, id)).agent).toMatchObject({
      state: 'needs_input',
      reason: 'ask to delete the build',
    });
  });

  it("a dialog announced by a hook (Claude Code's PermissionRequest) is named from the screen, not by the tool", async () => {
    const id = await spawnAgent('hooked');
    await client.sendPrompt(id, 'ask to run make deploy');
    await waitFor(async () => (await client.screen(id)).text.includes('Tool call:'), 'the dialog on screen');
    const mark = events.attention.length;
    await client.request({
      type: 'agent_signal',
      session_id: id,
      source: 'claude',
      event: 'PermissionRequest',
      payload: { hook_event_name: 'PermissionRequest', tool_name: 'Bash' },
    });
    const needs = await events.nextAttention('needs_input', id, mark);
    expect(needs.excerpt).toBe('ask to run make deploy');
    expect((await sessionInfo(client, id)).agent).toMatchObject({ state: 'needs_input', source: 'hook' });
  });
});

describe('sessions ended through Tower', () => {
  it('raise no exited or error attention (close_session, tower kill, restart); one that ends by itself does', async () => {
    const closed = await spawnAgent('scripted');
    const killed = await spawnAgent('scripted');
    const restarted = await spawnAgent('scripted');
    const mark = events.attention.length;
    await client.close(closed);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [TOWER_BIN, '--state-dir', daemon.stateDir, 'kill', killed], {
        stdio: 'ignore',
      });
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    const replacement = await client.restart(restarted);
    for (const id of [closed, killed, restarted])
      expect((await sessionInfo(client, id)).agent.state).toBe('exited');
    // A program that fails on its own still says so; events arrive in order, so once its error is
    // here, any event for the sessions ended above would be here too.
    const { sessionId: failing } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'exit 3'] });
    await events.nextAttention('error', failing, mark);
    const ended = events.attention
      .slice(mark)
      .filter((event) => event.kind === 'exited' || event.kind === 'error')
      .map((event) => [event.kind, event.session_id]);
    expect(ended).toEqual([
      ['exited', failing],
      ['error', failing],
    ]);
    expect((await sessionInfo(client, replacement)).status).toBe('running');
  });
});

describe('~ in a working directory', () => {
  it("is the daemon user's home, for plain sessions, runtimes and dispatch", async () => {
    const plain = await client.createSession({ cwd: '~' });
    expect((await sessionInfo(client, plain.sessionId)).cwd).toBe(home);
    const inProject = await client.createSession({ cwd: '~/proj' });
    expect((await sessionInfo(client, inProject.sessionId)).cwd).toBe(join(home, 'proj'));
    const agent = await client.createSession({ runtime: 'scripted', cwd: '~/proj' });
    expect((await sessionInfo(client, agent.sessionId)).cwd).toBe(join(home, 'proj'));
    const dispatched = await client.dispatch({ runtime: 'shell', cwd: '~/proj', text: 'true' });
    expect((await sessionInfo(client, dispatched.session_id)).cwd).toBe(join(home, 'proj'));
    // Only the daemon user's own home: ~user is not expanded, and says so as a bad cwd.
    await expect(client.createSession({ cwd: '~nobody/x' })).rejects.toMatchObject({
      code: 'bad_cwd',
      message: expect.stringContaining('~nobody/x'),
    });
  });
});
