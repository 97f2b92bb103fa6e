/**
 * What the web workspace needs from the daemon to answer agents, through the real daemon and socket:
 * each runtime's answer keys, and an approval named by what it asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { recordEvents, scriptedRuntime, sessionInfo, waitState, writeRuntimes } from './support/agents.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;

const SCRIPTED_STATUS = { busy: ['esc to interrupt'], idle: ['^ready>$'], quiet_ms: 400 };

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
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
