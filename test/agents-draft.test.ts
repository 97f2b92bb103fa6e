/**
 * A prompt never joins what the user typed and did not submit (a draft). The scripted agent runs on a
 * real PTY under the real daemon; the draft is typed through the socket like any client's keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypedInput } from '../dist/agents/draft.js';
import type { TowerClient } from '../dist/client/client.js';
import { recordEvents, scriptedRuntime, waitState, writeRuntimes } from './support/agents.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime(),
    impatient: scriptedRuntime({ prompt: { draft_wait_ms: 1000 } }),
  });
  client = await daemon.connect();
  events = await recordEvents(client);
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
});

async function spawnScripted(runtime = 'scripted'): Promise<string> {
  const { sessionId } = await client.createSession({ runtime, cwd: '/tmp' });
  await waitState(client, sessionId, 'idle');
  return sessionId;
}

const screenText = async (id: string) => (await client.screen(id)).text;
const answers = async (id: string) =>
  (await screenText(id)).split('\n').filter((line) => line.startsWith('answer:'));

/** Type like a person: the agent echoes it onto its input line. */
async function typeDraft(id: string, text: string): Promise<void> {
  await client.write(id, text);
  await waitFor(async () => (await screenText(id)).includes(`ready> ${text.trimEnd()}`), 'the draft echoed');
}

describe('a prompt and the user draft', () => {
  it('waits while the input line holds a draft, saying so, and goes in on its own once the draft is sent', async () => {
    const id = await spawnScripted();
    await typeDraft(id, 'half typed ');
    const prompt = await client.sendPrompt(id, 'do X');
    expect(prompt.state).toBe('queued');
    expect(prompt.waiting).toMatch(/input line holds a draft/);
    const listed = (await client.prompts(id)).find((p) => p.id === prompt.id)!;
    expect(listed).toMatchObject({ state: 'queued', waiting: prompt.waiting });
    // Nothing was typed over the draft.
    expect(await screenText(id)).toMatch(/^ready> half typed\s*$/m);
    expect(await answers(id)).toEqual([]);

    await client.write(id, '\r');
    expect((await events.settled(prompt.id)).state).toBe('delivered');
    await waitFor(async () => (await answers(id)).length === 2, 'both answers', 15_000);
    expect(await answers(id)).toEqual(['answer: half typed', 'answer: do X']);
  });

  it('goes in once the user erases the draft, and never clears it itself', async () => {
    const id = await spawnScripted();
    await typeDraft(id, 'oops');
    const prompt = await client.sendPrompt(id, 'after erasing');
    expect(prompt.state).toBe('queued');
    await client.write(id, '\x7f\x7f\x7f\x7f');
    expect((await events.settled(prompt.id)).state).toBe('delivered');
    await waitFor(async () => (await answers(id)).length === 1, 'the answer', 15_000);
    expect(await answers(id)).toEqual(['answer: after erasing']);
  });

  it('is not held back by keys the user typed and already erased', async () => {
    const id = await spawnScripted();
    await client.write(id, 'abc\x7f\x7f\x7f');
    await waitFor(async () => /^ready>\s*$/m.test(await screenText(id)), 'the empty input line');
    const prompt = await client.sendPrompt(id, 'straight in');
    expect(prompt.state).toBe('delivering');
    expect((await events.settled(prompt.id)).state).toBe('delivered');
  });

  it('fails clearly when the draft stays past the wait, and leaves the draft as it was', async () => {
    const id = await spawnScripted('impatient');
    await typeDraft(id, 'keep me');
    const mark = events.attention.length;
    const prompt = await client.sendPrompt(id, 'never merged');
    const final = await events.settled(prompt.id);
    expect(final.state).toBe('failed');
    expect(final.error).toMatch(/input line held a draft for 1 s/);
    expect(final.error).toMatch(/submit or clear it/);
    const error = await events.nextAttention('error', id, mark);
    expect(error.excerpt).toContain('prompt not delivered');
    expect(await screenText(id)).toMatch(/^ready> keep me\s*$/m);
    expect(await screenText(id)).not.toContain('never merged');
    expect(await answers(id)).toEqual([]);
  });
});

describe('keys a client typed', () => {
  const typedKeys = (...chunks: string[]) => {
    const input = new TypedInput();
    for (const chunk of chunks) input.typed(Buffer.from(chunk, 'latin1'), 0);
    return input;
  };

  it('leave a draft until Enter, Ctrl-C or Ctrl-U, and a line break inside a paste does not submit', () => {
    expect(typedKeys('half typed').pending).toBe(true);
    expect(typedKeys('half typed', '\r').pending).toBe(false);
    expect(typedKeys('sent\rnext').pending).toBe(true);
    expect(typedKeys('gone\x03').pending).toBe(false);
    expect(typedKeys('gone\x15').pending).toBe(false);
    expect(typedKeys('\x1b[200~line one\rline two\x1b[201~').pending).toBe(true);
    expect(typedKeys('\x1b[200~pasted\x1b[201~\r').submitted).not.toBeNull();
    expect(typedKeys('\x1b[A').pending).toBe(true); // history recall puts text on the line
  });

  it('ignore what a terminal sends that is not typing: focus, mouse and replies to queries', () => {
    const input = typedKeys('\x1b[I', '\x1b[O', '\x1b[<0;10;5M\x1b[<0;10;5m', '\x1b[?1;2c', '\x1b[12;40R');
    expect(input.pending).toBe(false);
    expect(input.count).toBe(0);
    expect(typedKeys('\x1b]11;rgb:0000/0000/0000\x1b\\').count).toBe(0);
  });
});
