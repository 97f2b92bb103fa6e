/**
 * The MCP server driven by the SDK's own client: `tower mcp` over stdio and /mcp over Streamable HTTP,
 * against a real `tower serve` running the scripted agent: spawn → prompt → wait (with progress) →
 * read; attention; kill; the recursion guard across a spawned agent's environment; the endpoint's
 * credentials and origins; and a spawn on a second Tower added as a peer.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedRuntime, writeRuntimes } from './support/agents.js';
import { startTestDaemon, type TestDaemon, TOWER_BIN } from './support/daemon.js';
import { addPeerRecord, tokenOf } from './support/federation.js';

// biome-ignore lint/suspicious/noExplicitAny: tool results are JSON, checked field by field
type Result = { isError?: boolean; content: { text: string }[]; structuredContent?: any };

const scratch = mkdtempSync(join(tmpdir(), 'tower-mcp-'));
const project = join(scratch, 'project');
mkdirSync(project);
let here: TestDaemon;
let peer: TestDaemon;
const clients: Client[] = [];

async function towerWithAgent(): Promise<TestDaemon> {
  const stateDir = mkdtempSync(join(scratch, 'state-'));
  writeRuntimes(stateDir, { scripted: scriptedRuntime() });
  // Turns long enough that a wait sees the agent busy and reports progress.
  return startTestDaemon({ stateDir, env: { SCRIPTED_AGENT_WORK_MS: '1500' } });
}

async function stdioClient(args: string[], env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [TOWER_BIN, 'mcp', ...args],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, TOWER_STATE_DIR: here.stateDir, ...env },
    cwd: project,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'tower-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
  onprogress?: () => void,
) {
  const result = (await client.callTool({ name, arguments: args }, undefined, {
    onprogress,
    timeout: 60_000,
  })) as Result;
  return result;
}

async function tool(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = await call(client, name, args);
  if (result.isError) throw new Error(`${name}: ${result.content[0]?.text}`);
  return result.structuredContent;
}

/** The spawned program's own environment, as a `tower mcp` it started would inherit it. */
function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(
    entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

async function pidOf(daemon: TestDaemon, id: string): Promise<number> {
  const client = await daemon.connect();
  try {
    return (await client.list()).find((session) => session.id === id)!.pid!;
  } finally {
    client.end();
  }
}

beforeAll(async () => {
  [here, peer] = await Promise.all([towerWithAgent(), towerWithAgent()]);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await Promise.all([here?.dispose(), peer?.dispose()]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('tower mcp (stdio)', () => {
  let client: Client;
  let id: string;

  beforeAll(async () => {
    client = await stdioClient(['--max-spawn', '2', '--max-depth', '1']);
  });

  it('lists its tools', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'attention',
      'kill_session',
      'list_runtimes',
      'list_sessions',
      'list_substrates',
      'read_output',
      'read_screen',
      'send_prompt',
      'spawn_agent',
      'wait_for_status',
    ]);
    const runtimes = await tool(client, 'list_runtimes');
    expect(runtimes.runtimes.find((r: { name: string }) => r.name === 'scripted').ready).toBe(true);
    const substrates = await tool(client, 'list_substrates');
    expect(substrates.substrates.map((s: { name: string }) => s.name)).toContain('local');
  });

  it('spawns an agent, prompts it, waits with progress for its answer, and reads it', async () => {
    const spawned = await tool(client, 'spawn_agent', { runtime: 'scripted' });
    id = spawned.session.id;
    // No cwd given: where the client started `tower mcp`.
    expect(spawned.session).toMatchObject({ runtime: 'scripted', cwd: project, peer: null });
    expect(spawned.spawns_left).toBe(1);
    expect(
      await tool(client, 'wait_for_status', { session_id: id, until: ['idle'], timeout_seconds: 20 }),
    ).toMatchObject({ reached: true, session: { state: 'idle' } });

    const sent = await tool(client, 'send_prompt', { session_id: id, text: 'hello over mcp' });
    expect(sent.prompt_id).toMatch(/\S/);
    let progress = 0;
    const waited = await call(
      client,
      'wait_for_status',
      { session_id: id, prompt_id: sent.prompt_id, until: ['idle'], timeout_seconds: 30 },
      () => progress++,
    );
    expect(waited.structuredContent).toMatchObject({ reached: true, prompt: { state: 'delivered' } });
    expect(progress).toBeGreaterThan(0);

    const screen = await call(client, 'read_screen', { session_id: id });
    expect(screen.content[0]!.text).toContain('answer: hello over mcp');

    const first = await tool(client, 'read_output', { session_id: id, offset: 0, max_bytes: 64 });
    expect(first).toMatchObject({ offset: 0, more: true });
    expect(first.text).toContain('scripted agent 1.0');
    const rest = await tool(client, 'read_output', { session_id: id, offset: first.next_offset });
    expect(rest.offset).toBe(first.next_offset);
    expect(rest.text).toContain('answer: hello over mcp');
    expect(rest.text).not.toContain('\x1b');
    expect(rest.next_offset).toBe(rest.last_offset);

    const listed = await tool(client, 'list_sessions');
    expect(listed.sessions.find((s: { id: string }) => s.id === id)).toMatchObject({ state: 'idle' });
  });

  it('says what needs a person, and times out a wait without an error', async () => {
    await tool(client, 'send_prompt', { session_id: id, text: 'ask to delete' });
    const asking = await tool(client, 'wait_for_status', {
      session_id: id,
      until: ['needs_input'],
      timeout_seconds: 20,
    });
    expect(asking.reached).toBe(true);
    const { items } = await tool(client, 'attention');
    expect(items).toContainEqual(expect.objectContaining({ session_id: id, kind: 'needs_input' }));
    const stuck = await call(client, 'wait_for_status', {
      session_id: id,
      until: ['idle'],
      timeout_seconds: 1,
    });
    expect(stuck.isError).toBeFalsy();
    expect(stuck.structuredContent).toMatchObject({ reached: false, stopped: 'timeout' });
  });

  it('refuses a spawn past its budget, and a spawned agent inherits the depth limit', async () => {
    const second = await tool(client, 'spawn_agent', { runtime: 'shell', cwd: project });
    const refused = await call(client, 'spawn_agent', { runtime: 'shell', cwd: project });
    expect(refused.isError).toBe(true);
    expect(refused.content[0]!.text).toMatch(/^spawn_limit: spawn budget used up: .* 2 of at most 2/);

    const env = environOf(await pidOf(here, second.session.id));
    expect(env).toMatchObject({ TOWER_MCP_DEPTH: '1', TOWER_MCP_MAX_DEPTH: '1', TOWER_MCP_MAX_SPAWN: '2' });
    const inherited = Object.fromEntries(
      Object.entries(env).filter(([name]) => name.startsWith('TOWER_MCP_')),
    );
    // The worker's own `tower mcp` cannot lift the limit its parent was given.
    const worker = await stdioClient(['--max-depth', '5'], inherited);
    const deep = await call(worker, 'spawn_agent', { runtime: 'shell', cwd: project });
    expect(deep.isError).toBe(true);
    expect(deep.content[0]!.text).toMatch(/^spawn_limit: recursion limit: .* depth 1/);
    expect(await tool(worker, 'list_sessions')).toBeTruthy();
  });

  it('says so when no tower serve runs for its state dir', async () => {
    const alone = await stdioClient([], { TOWER_STATE_DIR: mkdtempSync(join(scratch, 'no-serve-')) });
    const listed = await call(alone, 'list_sessions');
    expect(listed.isError).toBe(true);
    expect(listed.content[0]!.text).toMatch(/^serve_not_running: tower serve is not running/);
  });

  it('kills a session, and reports an unknown one as a clear tool error', async () => {
    const killed = await tool(client, 'kill_session', { session_id: id });
    expect(killed.session).toMatchObject({ id, status: 'exited' });
    const unknown = await call(client, 'read_screen', { session_id: 'no-such-session' });
    expect(unknown.isError).toBe(true);
    expect(unknown.content[0]!.text).toMatch(/^unknown_session: /);
  });
});

describe('/mcp on tower serve (Streamable HTTP)', () => {
  const connect = async (headers: Record<string, string>) => {
    const transport = new StreamableHTTPClientTransport(new URL(`${here.httpUrl}/mcp`), {
      requestInit: { headers },
    });
    const client = new Client({ name: 'tower-test-http', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  };

  it('serves the tools to the admin token, in a session of its own', async () => {
    const client = await connect({ authorization: `Bearer ${tokenOf(here)}` });
    const spawned = await tool(client, 'spawn_agent', { runtime: 'scripted', cwd: project });
    const id = spawned.session.id;
    await tool(client, 'wait_for_status', { session_id: id, until: ['idle'], timeout_seconds: 20 });
    const sent = await tool(client, 'send_prompt', { session_id: id, text: 'over http' });
    let progress = 0;
    const waited = await call(
      client,
      'wait_for_status',
      { session_id: id, prompt_id: sent.prompt_id, timeout_seconds: 30 },
      () => progress++,
    );
    expect(waited.structuredContent).toMatchObject({ reached: true, session: { state: 'idle' } });
    expect(progress).toBeGreaterThan(0);
    expect((await call(client, 'read_screen', { session_id: id })).content[0]!.text).toContain(
      'answer: over http',
    );
    await tool(client, 'kill_session', { session_id: id, remove: true });
  });

  it('refuses no token, a wrong token, a foreign Origin and an unknown session', async () => {
    await expect(connect({})).rejects.toMatchObject({ code: 401, message: /authentication required/ });
    await expect(connect({ authorization: 'Bearer wrong' })).rejects.toMatchObject({
      code: 401,
      message: /wrong token/,
    });
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    const post = (headers: Record<string, string>) =>
      fetch(`${here.httpUrl}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tokenOf(here)}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body: JSON.stringify(initialize),
      });
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
    const viewer = execFileSync(
      process.execPath,
      [TOWER_BIN, '--state-dir', here.stateDir, 'token', '--viewer'],
      {
        encoding: 'utf8',
      },
    ).trim();
    expect((await post({ authorization: `Bearer ${viewer}` })).status).toBe(403);
    const stream = await fetch(`${here.httpUrl}/mcp`, {
      headers: { authorization: `Bearer ${viewer}`, accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(403);
    expect((await post({ 'mcp-session-id': 'not-a-session' })).status).toBe(404);
  });
});

describe('spawn_agent on a peer', () => {
  it('starts the agent on the peer with its credential, named PEER/ID, the guard passed along', async () => {
    addPeerRecord(here, 'other', peer);
    const client = await stdioClient([]);
    const spawned = await tool(client, 'spawn_agent', { runtime: 'scripted', peer: 'other', cwd: scratch });
    expect(spawned.session.id).toMatch(/^other\//);
    expect(spawned.session).toMatchObject({ peer: 'other', runtime: 'scripted' });
    const remoteId = spawned.session.id.slice('other/'.length);
    expect(environOf(await pidOf(peer, remoteId))).toMatchObject({ TOWER_MCP_DEPTH: '1' });
    const unknown = await call(client, 'spawn_agent', { runtime: 'scripted', peer: 'nobody' });
    expect(unknown.content[0]!.text).toMatch(/^unknown_peer: /);
  });
});
