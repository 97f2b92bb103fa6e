/**
 * Server-sent events over the real daemon: GET /api/sessions/:id/stream (the ConsoleEvent contract:
 * started, output with resumable offsets, idle, error) and GET /api/events (session changes, agent
 * status, attention and prompt events).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { runCli } from './support/cli.js';
import { collectOutput, readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { type ApiCall, api, type SseEvent, SseReader } from './support/http.js';
import { APPROVAL_LINE, stateDirWithRuntimes } from './support/web-runtimes.js';

let daemon: TestDaemon;
let client: TowerClient;
let base: string;
let token: string;
const readers: SseReader[] = [];

const EMOJI = '😀'; // F0 9F 98 80
/** Waits for Enter, then writes the emoji's 4 bytes in two halves, a pause apart, then goes quiet. */
const SPLIT_EMOJI_SCRIPT =
  "read go; printf 'before\\n'; printf '\\360\\237'; sleep 0.3; printf '\\230\\200 after\\n'; sleep 60";

async function open(
  path: string,
  call: ApiCall = {},
  options: { paused?: boolean } = {},
): Promise<SseReader> {
  const reader = await SseReader.open(base, path, { token, ...call }, options);
  readers.push(reader);
  return reader;
}

async function createSession(command: string, args: string[]): Promise<string> {
  return spawn({ command, args });
}

async function spawn(body: Record<string, unknown>): Promise<string> {
  const response = await api(base, '/api/sessions', { method: 'POST', token, body });
  expect(response.status).toBe(201);
  return (await response.json()).session.id;
}

const idleAfter = (reader: SseReader, text: string) =>
  reader.next(
    (event) =>
      event.event === 'idle' &&
      reader.events.slice(0, reader.events.indexOf(event)).some((e) => e.data.data?.includes(text)),
    `idle after "${text}"`,
  );

function checkOutputs(outputs: SseEvent[], start: number): string {
  let offset = start;
  let text = '';
  for (const event of outputs) {
    expect(event.data.offset).toBe(offset + event.data.bytes);
    expect(event.id).toBe(String(event.data.offset));
    expect(Buffer.byteLength(event.data.data)).toBe(event.data.bytes);
    offset = event.data.offset;
    text += event.data.data;
  }
  return text;
}

beforeAll(async () => {
  daemon = await startTestDaemon({ stateDir: stateDirWithRuntimes() });
  client = await daemon.connect();
  base = daemon.httpUrl!;
  token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
});

afterAll(async () => {
  for (const reader of readers) reader.close();
  client?.end();
  await daemon?.dispose();
});

describe('GET /api/sessions/:id/stream', () => {
  it('streams started, output with increasing offsets (a split character arrives whole), idle; resumes', async () => {
    const id = await createSession('/bin/sh', ['-c', SPLIT_EMOJI_SCRIPT]);
    const raw = collectOutput(client, id);
    await client.subscribe(id, { fromOffset: 0 });
    const reader = await open(`/api/sessions/${id}/stream?offset=0`);
    const started = await reader.next((e) => e.event === 'started', 'started');
    expect(started.data).toEqual({ event: 'started', offset: 0 });
    expect(reader.events[0]).toBe(started);
    // Quiet at first (the program waits for Enter): idle says so.
    await reader.next((e) => e.event === 'idle', 'idle before any output');

    await client.write(id, '\r');
    await idleAfter(reader, 'after');
    const journal = await readAllOutput(client, id, 0);
    const text = checkOutputs(reader.outputs(), 0);
    expect(Buffer.from(text, 'utf8').equals(journal)).toBe(true);
    expect(text).toContain(`${EMOJI} after`);
    expect(text).not.toContain('\ufffd');
    // The daemon really did deliver the emoji in two pieces.
    expect(raw.bytes().equals(journal)).toBe(true);
    const emojiStart = journal.indexOf(Buffer.from(EMOJI));
    expect(reader.outputs().some((e) => e.data.offset === emojiStart)).toBe(true);

    const middle = reader.outputs()[0]!.data.offset as number;
    const resumed = await open(`/api/sessions/${id}/stream?offset=${middle}`);
    await idleAfter(resumed, 'after');
    expect(resumed.events[0]!.data).toEqual({ event: 'started', offset: middle });
    const rest = checkOutputs(resumed.outputs(), middle);
    expect(Buffer.from(rest, 'utf8').equals(journal.subarray(middle))).toBe(true);

    // A reconnecting EventSource sends Last-Event-ID; it wins over the ?offset= of the original URL.
    const reconnected = await open(`/api/sessions/${id}/stream?offset=0`, {
      headers: { 'last-event-id': String(emojiStart) },
    });
    await idleAfter(reconnected, 'after');
    expect(reconnected.events[0]!.data.offset).toBe(emojiStart);
    expect(checkOutputs(reconnected.outputs(), emojiStart)).toBe(`${EMOJI} after\r\n`);
  });

  it('goes on live, and starts at the earliest retained offset by default', async () => {
    const id = await createSession('/bin/sh', ['-c', 'echo one; read x; echo two-$x; sleep 60']);
    await waitFor(async () => (await readAllOutput(client, id, 0)).includes('one'), 'first line');
    const reader = await open(`/api/sessions/${id}/stream`);
    await idleAfter(reader, 'one');
    await client.write(id, '2\r');
    await idleAfter(reader, 'two-2');
    const text = checkOutputs(reader.outputs(), 0);
    expect(Buffer.from(text).equals(await readAllOutput(client, id, 0))).toBe(true);
  });

  it('sends an error and ends for an unknown session or an offset not retained', async () => {
    const unknown = await open('/api/sessions/nope/stream');
    await unknown.waitEnded();
    expect(unknown.events).toEqual([
      { event: 'error', id: undefined, data: { event: 'error', message: 'unknown session: nope' } },
    ]);
    const id = await createSession('/bin/sh', ['-c', 'echo short; sleep 60']);
    const beyond = await open(`/api/sessions/${id}/stream?offset=999999`);
    await beyond.waitEnded();
    expect(beyond.events.map((e) => e.event)).toEqual(['error']);
    expect(beyond.events[0]!.data.message).toContain('not retained');
  });

  it('is readable with a viewer token, not without auth', async () => {
    const id = await createSession('/bin/sh', ['-c', 'echo watched; sleep 60']);
    const viewerToken = (await runCli(daemon.stateDir, ['token', '--viewer'])).stdout.trim();
    const viewer = await open(`/api/sessions/${id}/stream?offset=0`, { token: viewerToken });
    await idleAfter(viewer, 'watched');
    expect((await api(base, `/api/sessions/${id}/stream`)).status).toBe(401);
  });

  it('a reader that stops reading is paused, not cut off: once it reads again it gets every byte', async () => {
    const flood = 'read x; head -c 60000000 /dev/zero | tr "\\0" a; echo; echo flood-done; sleep 60';
    const id = await createSession('/bin/sh', ['-c', flood]);
    const stalled = await open(`/api/sessions/${id}/stream?offset=0`, {}, { paused: true });
    await client.write(id, '\r');
    const end = await waitFor(
      async () => {
        const session = (await client.list()).find((s) => s.id === id)!;
        return (await readAllOutput(client, id, Math.max(0, session.last_offset - 100))).includes(
          'flood-done',
        )
          ? session.last_offset
          : undefined;
      },
      'the flood to be journaled',
      60_000,
    );

    // It is far behind the daemon's 8 MiB ring: it catches up from the journal on disk, no error.
    stalled.start();
    await idleAfter(stalled, 'flood-done');
    expect(stalled.events.filter((e) => e.event === 'error')).toEqual([]);
    expect(stalled.outputs().at(-1)!.data.offset).toBe(end);
    const text = checkOutputs(stalled.outputs(), 0);
    expect(Buffer.from(text).equals(await readAllOutput(client, id, 0))).toBe(true);

    // A reader that reconnects from its Last-Event-ID resumes there.
    const middle = stalled.outputs()[Math.floor(stalled.outputs().length / 2)]!.data.offset;
    const resumed = await open(`/api/sessions/${id}/stream`, {
      headers: { 'last-event-id': String(middle) },
    });
    await idleAfter(resumed, 'flood-done');
    expect(resumed.outputs().at(-1)!.data.offset).toBe(end);
    expect(checkOutputs(resumed.outputs(), middle)).toBe(text.slice(middle));
  }, 90_000);
});

describe('GET /api/events', () => {
  it('reports a created session, its resize and its exit', async () => {
    const events = await open('/api/events');
    const id = await createSession('/bin/sh', ['-c', 'read x']);
    const created = await events.next((e) => e.event === 'created' && e.data.session.id === id, 'created');
    expect(created.data).toMatchObject({ event: 'created', session: { id, status: 'running' } });
    await api(base, `/api/sessions/${id}/resize`, { method: 'POST', token, body: { cols: 50, rows: 10 } });
    await events.next((e) => e.event === 'resized' && e.data.session.cols === 50, 'resized');
    await client.write(id, '\r');
    await events.next((e) => e.event === 'exited' && e.data.session.id === id, 'exited');
  });
});

describe('GET /api/events: agents', () => {
  const statusOf = (events: SseReader, id: string) =>
    events.events
      .filter((e) => e.event === 'status' && e.data.session.id === id)
      .map((e) => e.data.session.agent.state);

  it('reports status changes, prompt states and a finished turn', async () => {
    const events = await open('/api/events');
    const id = await spawn({ runtime: 'shell', name: 'turns' });
    await events.next(
      (e) => e.event === 'status' && e.data.session.id === id && e.data.session.agent.state === 'idle',
      'idle',
    );
    const response = await api(base, `/api/sessions/${id}/prompt`, {
      method: 'POST',
      token,
      body: { text: 'sleep 0.6; echo slept' },
    });
    expect(response.status).toBe(202);
    const { prompt } = await response.json();
    const delivered = await events.next(
      (e) => e.event === 'prompt' && e.data.prompt.id === prompt.id && e.data.prompt.state === 'delivered',
      'the prompt delivered',
    );
    expect(delivered.data).toMatchObject({
      event: 'prompt',
      prompt: { session_id: id, text: 'sleep 0.6; echo slept' },
    });
    const states = events.events
      .filter((e) => e.event === 'prompt' && e.data.prompt.id === prompt.id)
      .map((e) => e.data.prompt.state);
    expect(states[0]).toBe('queued');
    expect(states).toContain('delivering');
    const finished = await events.next(
      (e) =>
        e.event === 'attention' &&
        e.data.attention.session_id === id &&
        e.data.attention.kind === 'turn_finished',
      'turn_finished',
    );
    expect(finished.data.attention).toMatchObject({
      runtime: 'shell',
      name: 'turns',
      at: expect.any(String),
    });
    expect(statusOf(events, id)).toEqual(expect.arrayContaining(['idle', 'busy']));
  });

  it('reports an agent that needs input, with the question as the excerpt', async () => {
    const events = await open('/api/events');
    const id = await spawn({ runtime: 'fakeagent', name: 'asker' });
    await events.next(
      (e) => e.event === 'status' && e.data.session.id === id && e.data.session.agent.state === 'idle',
      'idle',
    );
    await api(base, `/api/sessions/${id}/prompt`, { method: 'POST', token, body: { text: 'deploy it' } });
    const needs = await events.next(
      (e) =>
        e.event === 'attention' &&
        e.data.attention.session_id === id &&
        e.data.attention.kind === 'needs_input',
      'needs_input',
    );
    expect(needs.data.attention).toMatchObject({ runtime: 'fakeagent', name: 'asker' });
    expect(needs.data.attention.excerpt).toContain(APPROVAL_LINE);
    const status = events.events.find(
      (e) => e.event === 'status' && e.data.session.id === id && e.data.session.agent.state === 'needs_input',
    );
    expect(status?.data.session.agent).toMatchObject({
      source: 'screen',
      reason: expect.stringContaining('proceed'),
    });
  });
});
