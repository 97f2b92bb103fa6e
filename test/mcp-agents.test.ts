/**
 * MCP with a real agent CLI: the real Claude Code (installed by scripts/install-agents.sh) against the
 * fake model server, spawned, prompted, waited for (with progress) and read through `tower mcp`, here
 * and on a second Tower added as a peer (its session reached as PEER/ID through this Tower).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeHome } from './support/agent-home.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN } from './support/daemon.js';
import { type FakeModel, startFakeModel } from './support/fake-model.js';
import { addPeerRecord } from './support/federation.js';
import { installed, STRICT } from './support/real-agents.js';

// biome-ignore lint/suspicious/noExplicitAny: tool results are JSON, checked field by field
type Result = { isError?: boolean; content: { text: string }[]; structuredContent?: any };

const scratch = mkdtempSync(join(tmpdir(), 'tower-mcp-agents-'));
const project = join(scratch, 'project');
mkdirSync(project);
let model: FakeModel;
let here: TestDaemon;
let peer: TestDaemon;
let client: Client;

/** A Tower whose sessions run Claude Code against the fake model (its HOME and settings). */
function towerForClaude(): Promise<TestDaemon> {
  const { env } = claudeHome(model.url, { trust: [project, scratch], parent: scratch });
  // Sessions inherit the daemon's environment here (spawn_agent passes none), and a session's PATH loses
  // leading node_modules/.bin entries under npm: the agents' bin goes after a plain directory.
  return startTestDaemon({ env: { ...env, PATH: `/usr/bin:${env.PATH}` } });
}

async function call(name: string, args: Record<string, unknown>, onprogress?: () => void): Promise<Result> {
  return (await client.callTool({ name, arguments: args }, undefined, {
    onprogress,
    timeout: 120_000,
    resetTimeoutOnProgress: true,
  })) as Result;
}

async function tool(name: string, args: Record<string, unknown>) {
  const result = await call(name, args);
  if (result.isError) throw new Error(`${name}: ${result.content[0]?.text}`);
  return result.structuredContent;
}

/** spawn → wait idle → prompt → wait for its turn (counting progress) → the answer on screen. */
async function turn(spawn: Record<string, unknown>, words: string) {
  const { session } = await tool('spawn_agent', { runtime: 'claude', cwd: project, ...spawn });
  const ready = await tool('wait_for_status', {
    session_id: session.id,
    until: ['idle'],
    timeout_seconds: 90,
  });
  expect(ready, JSON.stringify(ready)).toMatchObject({ reached: true });
  const sent = await tool('send_prompt', { session_id: session.id, text: `say ${words}` });
  let progress = 0;
  const waited = await call(
    'wait_for_status',
    { session_id: session.id, prompt_id: sent.prompt_id, until: ['idle'], timeout_seconds: 90 },
    () => progress++,
  );
  expect(waited.structuredContent, waited.content[0]?.text).toMatchObject({
    reached: true,
    prompt: { state: 'delivered' },
  });
  const screen = await call('read_screen', { session_id: session.id });
  return { id: session.id as string, progress, screen: screen.content[0]!.text };
}

describe.runIf(!installed('claude') && STRICT)('claude through MCP (strict mode)', () => {
  it('is installed', () => {
    throw new Error('claude is not installed: scripts/install-agents.sh (run by npm test) installs it');
  });
});

describe.runIf(installed('claude'))('claude through MCP, the real CLI', () => {
  beforeAll(async () => {
    model = await startFakeModel();
    [here, peer] = await Promise.all([towerForClaude(), towerForClaude()]);
    addPeerRecord(here, 'other', peer);
    client = new Client({ name: 'tower-test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [TOWER_BIN, 'mcp'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, TOWER_STATE_DIR: here.stateDir },
        cwd: project,
        stderr: 'pipe',
      }),
    );
  });

  afterAll(async () => {
    await client?.close().catch(() => {});
    await Promise.all([here?.dispose(), peer?.dispose()]);
    await model?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('here: spawn, prompt, wait with progress, and the answer on screen', async () => {
    const { id, progress, screen } = await turn({}, 'hello from mcp');
    expect(screen).toContain('hello from mcp');
    expect(progress).toBeGreaterThan(0);
    await tool('kill_session', { session_id: id });
  });

  it('on a peer: the same, the session reached as PEER/ID through this Tower', async () => {
    const { id, progress, screen } = await turn({ peer: 'other' }, 'hello from the peer');
    expect(id).toMatch(/^other\//);
    expect(screen).toContain('hello from the peer');
    expect(progress).toBeGreaterThan(0);
    const { sessions } = await tool('list_sessions', {});
    expect(sessions).toContainEqual(expect.objectContaining({ id, peer: 'other', runtime: 'claude' }));
    await tool('kill_session', { session_id: id });
  });
});
