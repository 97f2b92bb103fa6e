/**
 * A stalled or slow subscriber never pauses the program and never grows the daemon's memory:
 * it reads from its own cursor into the journal (catching up from disk when behind the in-memory
 * ring: see catch-up.test.ts), and is resynced from a snapshot once it falls behind what the
 * journal retains.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Terminal } from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { collectOutput, readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

const MB = 1024 * 1024;

/** A raw socket client that can stop reading, to play a stalled viewer. */
async function rawSubscriber(daemon: TestDaemon, subscribe: Record<string, unknown>) {
  const socket: Socket = connect(daemon.socketPath);
  await new Promise((r) => socket.once('connect', r));
  const token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
  const messages: Array<Record<string, unknown>> = [];
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline !== -1) {
      messages.push(JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  });
  socket.write(`${JSON.stringify({ type: 'auth', token })}\n`);
  await waitFor(() => messages.some((m) => m.type === 'auth_result'), 'auth');
  socket.write(`${JSON.stringify({ type: 'subscribe', ...subscribe })}\n`);
  return { socket, messages };
}

/** Print `megabytes` MB of numbered printable lines as fast as possible. */
function floodCommand(megabytes: number): string[] {
  const lines = Math.floor((megabytes * MB) / 100);
  return [
    '-c',
    `yes "$(printf '%099d' 0)" | head -n ${lines} | nl -ba -w8 -s' '; echo FLOOD-$((6*7)); sleep 30`,
  ];
}

describe('flow control', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    // 32 MiB on disk per session: the 120 MB flood below leaves stalled subscribers behind it.
    daemon = await startTestDaemon({ serveArgs: ['--log-cap-mib', '32'] });
    client = await daemon.connect();
  });

  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  it('a stalled subscriber neither pauses the program nor grows daemon memory; past retention it is resynced', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'sleep 0.5; exec sh'],
    });
    const stalled = await rawSubscriber(daemon, { session_id: sessionId });
    const resumable = await rawSubscriber(daemon, { session_id: sessionId, from_offset: 0 });
    stalled.socket.pause();
    resumable.socket.pause();
    const output = collectOutput(client, sessionId);
    await client.subscribe(sessionId, { fromOffset: 0 });
    const rssBefore = daemon.rssBytes();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, daemon.rssBytes());
    }, 50);

    const megabytes = 120;
    const expectedLines = Math.floor((megabytes * MB) / 100);
    await client.write(sessionId, `${floodCommand(megabytes)[1]!.replace(/; sleep 30$/, '')}\n`);
    await waitFor(
      () => output.tail().includes('FLOOD-42\r\n'),
      'the flood to reach the live subscriber',
      120_000,
    );
    clearInterval(sampler);

    // The live subscriber got every byte, in order, with no gap: all the journal still holds, and more.
    expect(output.gaps()).toBe(0);
    const info = (await client.list()).find((s) => s.id === sessionId)!;
    expect(info.first_offset).toBeGreaterThan(0);
    const journaled = await readAllOutput(client, sessionId, info.first_offset);
    expect(output.bytes().length).toBe(info.last_offset);
    expect(output.bytes().subarray(info.first_offset).equals(journaled)).toBe(true);
    expect(journaled.toString()).toContain(` ${expectedLines} 0000`);
    // Coarse: two unbounded queues would hold over 300 MB of base64 frames. (RSS also holds garbage
    // the GC has not collected yet, so the exact bound is checked below, on the wire.)
    expect(rssPeak - rssBefore).toBeLessThan(200 * MB);

    // Once they read again, their next byte is gone from memory and disk: the agor-style one gets a
    // full redraw, the resumable one a snapshot, and both then continue with contiguous output.
    stalled.socket.resume();
    resumable.socket.resume();
    await waitFor(
      () => resumable.messages.some((m) => m.type === 'snapshot'),
      'a snapshot for the slow subscriber',
    );
    await waitFor(
      () => stalled.messages.some((m) => m.type === 'session_output' && m.offset === undefined),
      'a redraw for the stalled agor-style subscriber',
    );
    const redraw = stalled.messages.find((m) => m.type === 'session_output' && m.offset === undefined)!;
    expect(
      Buffer.from(redraw.data as string, 'base64')
        .toString()
        .startsWith('\x1bc'),
    ).toBe(true);
    const snapshot = resumable.messages.find((m) => m.type === 'snapshot')!;
    expect(snapshot.offset as number).toBeGreaterThan(0);
    // Exact: what the daemon had queued for each stalled client is what reached it before its
    // resync: bounded by the 1 MiB socket high-water mark plus one frame and the kernel's buffer.
    const outputBefore = (messages: Array<Record<string, unknown>>, resync: Record<string, unknown>) =>
      messages
        .slice(0, messages.indexOf(resync))
        .filter((m) => m.type === 'session_output')
        .reduce((sum, m) => sum + Buffer.from(m.data as string, 'base64').length, 0);
    expect(outputBefore(resumable.messages, snapshot)).toBeLessThan(2 * MB);
    expect(outputBefore(stalled.messages, redraw)).toBeLessThan(2 * MB);
    await client.write(sessionId, 'echo AFTER-RESYNC\n');
    await waitFor(
      () =>
        resumable.messages.some(
          (m) =>
            m.type === 'session_output' &&
            Buffer.from(m.data as string, 'base64')
              .toString()
              .includes('AFTER-RESYNC'),
        ),
      'output after the resync',
    );
    const after = resumable.messages.slice(resumable.messages.indexOf(snapshot) + 1);
    let next = snapshot.offset as number;
    for (const message of after.filter((m) => m.type === 'session_output')) {
      expect(message.offset).toBe(next);
      next += Buffer.from(message.data as string, 'base64').length;
    }
    stalled.socket.destroy();
    resumable.socket.destroy();
  }, 180_000);

  it('a client that sends requests but never reads the replies is disconnected, not buffered forever', async () => {
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: floodCommand(1) });
    await waitFor(
      async () => (await client.screen(sessionId)).text.includes('FLOOD-42'),
      'output to read back',
    );
    const socket = connect(daemon.socketPath);
    await new Promise((r) => socket.once('connect', r));
    socket.pause();
    const closed = new Promise((r) => socket.once('close', r));
    const token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    const lines = [JSON.stringify({ type: 'auth', token })];
    // ~700 KB of base64 per reply: 80 of them is 56 MB the daemon would have to hold.
    const read = { type: 'read_output', session_id: sessionId, from_offset: 0, max_bytes: 512 * 1024 };
    for (let i = 0; i < 80; i++) lines.push(JSON.stringify(read));
    socket.write(`${lines.join('\n')}\n`);
    // A paused socket never reads the daemon's hang-up; a write to it fails (EPIPE) once it happened.
    socket.on('error', () => {});
    const probe = setInterval(() => socket.write('{"type":"ping"}\n'), 100);
    await closed;
    clearInterval(probe);
    // Everyone else is unaffected.
    expect((await client.list()).some((s) => s.id === sessionId)).toBe(true);
    await client.write(sessionId, '');
  });

  it('resuming from an offset gives exactly the bytes from there, from memory or from disk', async () => {
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: floodCommand(12) });
    await waitFor(
      async () => (await client.screen(sessionId)).text.includes('FLOOD-42'),
      'the whole flood',
      60_000,
    );
    const all = await readAllOutput(client, sessionId, 0);
    for (const from of [0, 1, 4096, all.length - 10 * MB - 3, all.length - 1000, all.length]) {
      const other = await daemon.connect();
      const output = collectOutput(other, sessionId);
      await other.subscribe(sessionId, { fromOffset: from });
      await waitFor(() => output.bytes().length >= all.length - from, `bytes from ${from}`, 30_000);
      expect(output.gaps()).toBe(0);
      expect(output.bytes().equals(all.subarray(from))).toBe(true);
      other.end();
    }
  }, 120_000);

  it('attach = snapshot at offset N + bytes from N reproduces the screen exactly', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: [
        '-c',
        'for i in $(seq 1 300); do printf "\\033[3%dmrow %d\\033[0m\\n" $((i % 7)) $i; done; exec sh',
      ],
      cols: 70,
      rows: 20,
    });
    await waitFor(async () => (await client.screen(sessionId)).text.includes('row 300'), 'output');
    const viewer = await daemon.connect();
    const terminal = new Terminal({ cols: 70, rows: 20, allowProposedApi: true });
    const write = (data: string | Uint8Array) => new Promise<void>((r) => terminal.write(data, r));
    let chain = Promise.resolve();
    viewer.on('snapshot', (s) => {
      chain = chain.then(() => write(s.data));
    });
    viewer.on('output', (o) => {
      chain = chain.then(() => write(o.data));
    });
    await viewer.subscribe(sessionId, { snapshot: true });
    await client.write(sessionId, 'printf "\\033[2J\\033[5;7Hmoved-here"\n');
    await waitFor(async () => (await client.screen(sessionId)).text.includes('moved-here'), 'moved text');
    await new Promise((r) => setTimeout(r, 200));
    await chain;
    const daemonScreen = await client.screen(sessionId);
    const lines: string[] = [];
    const buffer = terminal.buffer.active;
    for (let y = 0; y < 20; y++)
      lines.push(
        buffer
          .getLine(buffer.baseY + y)!
          .translateToString(true)
          .trimEnd(),
      );
    expect(lines.join('\n')).toBe(daemonScreen.text);
    expect([buffer.cursorX, buffer.cursorY]).toEqual([daemonScreen.cursor_x, daemonScreen.cursor_y]);
    viewer.end();
  });
});
