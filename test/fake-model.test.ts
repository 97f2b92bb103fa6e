/**
 * The fake model server (test/support/fake-model.ts) on its own, then the real agent CLIs in one-shot
 * mode against it: `claude -p`, `codex exec`, `gemini -p`, each with a throwaway HOME from
 * test/support/agent-home.ts. The CLIs come from scripts/install-agents.sh; without them these tests
 * skip, or fail when TOWER_TEST_STRICT=1.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentHome, agentBin, claudeHome, codexHome, geminiHome } from './support/agent-home.js';
import { type FakeModel, startFakeModel } from './support/fake-model.js';

const STRICT = process.env.TOWER_TEST_STRICT === '1';
const RUNTIMES = ['claude', 'codex', 'gemini'] as const;
const MISSING = RUNTIMES.filter((name) => agentBin(name) === null);

let server: FakeModel;
let scratch: string;
beforeAll(async () => {
  server = await startFakeModel();
  scratch = mkdtempSync(join(tmpdir(), 'tower-fake-model-'));
});
afterAll(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const sseEvents = (text: string) => [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
const TOOLS = [{ name: 'Bash', input_schema: { type: 'object' } }];
const user = (text: string) => ({
  role: 'user',
  content: [
    { type: 'text', text: '<system-reminder>x</system-reminder>' },
    { type: 'text', text },
  ],
});

describe('fake model server', () => {
  it('answers the Anthropic Messages API as JSON and as SSE, driven by the last user text', async () => {
    const plain = await post('/v1/messages?beta=true', {
      model: 'm',
      tools: TOOLS,
      messages: [user('say hi there')],
    });
    const message = (await plain.json()) as { content: { text: string }[]; stop_reason: string };
    expect(message.content[0]?.text).toBe('hi there');
    expect(message.stop_reason).toBe('end_turn');

    const streamed = await post('/v1/messages', {
      model: 'm',
      tools: TOOLS,
      stream: true,
      messages: [user('run ls')],
    });
    const text = await streamed.text();
    expect(sseEvents(text)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toContain('"name":"Bash"');
    const use = { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } };
    const result = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: '' }] };
    const after = await post('/v1/messages', {
      tools: TOOLS,
      messages: [user('run ls'), { role: 'assistant', content: [use] }, result],
    });
    expect(((await after.json()) as { content: { text: string }[] }).content[0]?.text).toBe('ran ls');
    const last = server.requests.at(-1);
    expect(last?.path).toBe('/v1/messages');
    expect(last?.userText).toBeNull();
  });

  it('gives side requests a harmless answer, in the JSON shape they ask for', async () => {
    const schema = { type: 'object', properties: { title: { type: 'string' } } };
    const response = await post('/v1/messages', {
      messages: [user('run rm -rf /')],
      output_config: { format: { schema } },
    });
    const text = ((await response.json()) as { content: { text: string }[] }).content[0]?.text ?? '';
    expect(JSON.parse(text)).toEqual({ title: 'Fake session' });
    expect(server.requests.at(-1)?.side).toBe(true);
  });

  it('streams the OpenAI Responses API events Codex needs, and a shell call for `run`', async () => {
    const input = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hello' }] }];
    const text = await (await post('/v1/responses', { model: 'm', stream: true, input })).text();
    expect(sseEvents(text)).toEqual([
      'response.created',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const tools = [{ type: 'function', name: 'exec_command', parameters: { properties: { cmd: {} } } }];
    const run = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'run touch f' }] }];
    const call = await (await post('/v1/responses', { stream: true, tools, input: run })).text();
    expect(call).toContain('"name":"exec_command"');
    expect(call).toContain('\\"cmd\\":\\"touch f\\"');
  });

  it('streams `slow` replies word by word over the given time', async () => {
    const started = Date.now();
    const text = await (
      await post('/v1/messages', { tools: TOOLS, stream: true, messages: [user('slow 400 a b c d')] })
    ).text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(sseEvents(text).filter((e) => e === 'content_block_delta')).toHaveLength(4);
  });
});

if (MISSING.length > 0 && !STRICT) {
  process.stderr.write(`agent CLI tests skipped for ${MISSING.join(', ')}: run scripts/install-agents.sh\n`);
}

describe.runIf(MISSING.length > 0 && STRICT)('agent CLIs (strict mode)', () => {
  it('needs the agent CLIs installed', () => {
    throw new Error(
      `missing ${MISSING.join(', ')}: run scripts/install-agents.sh (scripts/test-setup.sh does it)`,
    );
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], home: AgentHome, cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { cwd, env: home.env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end();
  });
}

/** A fresh project folder, trusted by the CLI's HOME. */
function project(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const one = (name: (typeof RUNTIMES)[number]) => agentBin(name) as string;

describe.runIf(agentBin('claude'))('claude -p against the fake model', () => {
  it('prints the scripted answer', async () => {
    const cwd = project('claude-say');
    const result = await run(
      one('claude'),
      ['-p', 'say hello there'],
      claudeHome(server.url, { trust: [cwd], parent: scratch }),
      cwd,
    );
    expect(result.stdout.trim(), result.stderr).toBe('hello there');
    expect(result.code).toBe(0);
    expect(server.requests.some((r) => r.path === '/v1/messages' && r.userText === 'say hello there')).toBe(
      true,
    );
  });

  it('runs a command with its Bash tool and reports it', async () => {
    const cwd = project('claude-run');
    const home = claudeHome(server.url, { trust: [cwd], parent: scratch });
    const result = await run(
      one('claude'),
      ['-p', '--allowedTools=Bash', '--', 'run touch made-by-claude'],
      home,
      cwd,
    );
    expect(result.stdout.trim(), result.stderr).toBe('ran touch made-by-claude');
    expect(existsSync(join(cwd, 'made-by-claude'))).toBe(true);
  });
});

describe.runIf(agentBin('codex'))('codex exec against the fake model', () => {
  it('prints the scripted answer', async () => {
    const cwd = project('codex-say');
    const home = codexHome(server.url, { trust: [cwd], parent: scratch });
    const result = await run(one('codex'), ['exec', '--skip-git-repo-check', 'say hello there'], home, cwd);
    expect(result.stdout.trim(), result.stderr).toBe('hello there');
    expect(result.code).toBe(0);
    expect(readFileSync(join(home.env.CODEX_HOME as string, 'config.toml'), 'utf8')).toContain('wire_api');
  });

  it('runs a command with its shell tool and reports it', async () => {
    const cwd = project('codex-run');
    const home = codexHome(server.url, { trust: [cwd], parent: scratch });
    const result = await run(
      one('codex'),
      ['exec', '--skip-git-repo-check', 'run touch made-by-codex'],
      home,
      cwd,
    );
    expect(result.stdout.trim(), result.stderr).toBe('ran touch made-by-codex');
    expect(existsSync(join(cwd, 'made-by-codex'))).toBe(true);
  });
});

describe.runIf(agentBin('gemini'))('gemini -p against the fake model', () => {
  it('prints the scripted answer', async () => {
    const cwd = project('gemini-say');
    const result = await run(
      one('gemini'),
      ['-p', 'say hello there'],
      geminiHome(server.url, { trust: [cwd], parent: scratch }),
      cwd,
    );
    expect(result.stdout.trim(), result.stderr).toBe('hello there');
    expect(result.code).toBe(0);
  });
});
