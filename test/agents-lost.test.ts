/**
 * After the daemon is killed (-9) and started again, the sessions it lost are reported once: in serve's
 * output, and as `lost` attention events that `tower events` and /api/events replay to clients that
 * connect later. Prompt history survives; the prompts a lost session never got show as failed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import type { AttentionEvent } from '../dist/protocol/index.js';
import { recordEvents, scriptedRuntime, waitState, writeRuntimes } from './support/agents.js';
import { describeResult, killLeftovers, runCli, startCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { SseReader } from './support/http.js';

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  daemon = await startTestDaemon();
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime(),
    // A turn that outlasts the test: prompts sent after it stay queued.
    endless: scriptedRuntime({ args: ['--work-ms=600000'] }),
  });
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
});

/** `tower events --json` started now: its parsed lines so far. */
function watchEvents() {
  const watcher = startCli(daemon.stateDir, ['events', '--json']);
  const lines = () =>
    watcher
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as AttentionEvent);
  return { lines, stop: () => watcher.child.kill() };
}

describe('sessions lost in a crash', () => {
  let agent: string;
  let plain: string;
  let finished: string;

  it('are reported once each after kill -9: serve output, tower events and /api/events, joined later', async () => {
    const events = await recordEvents(client);
    ({ sessionId: agent } = await client.createSession({ runtime: 'endless', name: 'alpha', cwd: '/tmp' }));
    await waitState(client, agent, 'idle');
    ({ sessionId: plain } = await client.createSession({
      name: 'beta',
      shell: '/bin/sh',
      args: ['-c', 'sleep 600'],
      cwd: '/tmp',
    }));
    ({ sessionId: finished } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'exit 0'] }));
    await waitFor(
      async () => (await client.list()).find((s) => s.id === finished)?.status === 'exited',
      'a finished session',
    );
    // Prompt history: one delivered, two queued behind a turn that never ends.
    const first = await client.sendPrompt(agent, 'first');
    expect((await events.settled(first.id)).state).toBe('delivered');
    await waitState(client, agent, 'busy');
    expect((await client.sendPrompt(agent, 'second')).state).toBe('queued');
    expect((await client.sendPrompt(agent, 'third')).state).toBe('queued');
    client.end();

    await daemon.crash();
    await daemon.restart();
    client = await daemon.connect();

    await waitFor(() => daemon.output().includes(plain), 'the lost sessions in serve output');
    const serve = daemon.output();
    expect(serve).toMatch(/^2 sessions were lost when the daemon stopped/m);
    expect(serve).toMatch(new RegExp(`^ +${agent} +alpha +endless +/tmp$`, 'm'));
    expect(serve).toMatch(new RegExp(`^ +${plain} +beta +/bin/sh -c sleep 600 +/tmp$`, 'm'));
    expect(serve).not.toContain(finished);

    // `tower events`, started after the restart, is told.
    const watcher = watchEvents();
    const lost = (id: string) => watcher.lines().filter((e) => e.kind === 'lost' && e.session_id === id);
    await waitFor(() => lost(agent).length > 0 && lost(plain).length > 0, 'lost events from tower events');
    expect(lost(agent)).toEqual([
      expect.objectContaining({ kind: 'lost', name: 'alpha', runtime: 'endless' }),
    ]);
    expect(lost(agent)[0]!.excerpt).toMatch(/lost when the daemon stopped/);
    expect(lost(plain)).toHaveLength(1);
    expect(watcher.lines().some((e) => e.session_id === finished)).toBe(false);
    watcher.stop();

    // So is a web page that opens /api/events now.
    const token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    const sse = await SseReader.open(daemon.httpUrl!, '/api/events', { token });
    for (const id of [agent, plain]) {
      const event = await sse.next(
        (e) =>
          e.event === 'attention' && e.data.attention.kind === 'lost' && e.data.attention.session_id === id,
        `the lost event of ${id} on /api/events`,
      );
      expect(event.data.replayed).toBe(true);
      expect(event.id).toBe(event.data.attention.id);
    }
    sse.close();
  });

  it('keep their prompt history: delivered stays delivered, queued shows as failed with the reason', async () => {
    const prompts = await client.prompts(agent);
    expect(prompts.map((p) => [p.text, p.state])).toEqual([
      ['first', 'delivered'],
      ['second', 'failed'],
      ['third', 'failed'],
    ]);
    expect(prompts[1]!.error).toMatch(/not delivered: the session was lost when the daemon stopped/);
    const listed = await runCli(daemon.stateDir, ['prompts', agent]);
    expect(listed.code, describeResult(listed)).toBe(0);
    expect(listed.stdout).toMatch(/failed \(not delivered: the session was lost.*third/);
    expect((await client.prompts()).filter((p) => p.session_id === agent)).toHaveLength(3);
  });

  it('are not reported again after the next restart, and their history is still there', async () => {
    client.end();
    await daemon.stop();
    await daemon.restart();
    client = await daemon.connect();
    expect(daemon.output()).not.toMatch(/lost when the daemon stopped/);
    const watcher = watchEvents();
    // A fresh event: everything replayed would have come before it.
    const { sessionId: fresh } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'exit 3'] });
    await waitFor(() => watcher.lines().some((e) => e.session_id === fresh), 'the fresh session event');
    expect(watcher.lines().filter((e) => e.kind === 'lost')).toEqual([]);
    watcher.stop();
    expect((await client.prompts(agent)).map((p) => p.state)).toEqual(['delivered', 'failed', 'failed']);
  });

  it('forget their prompts when removed', async () => {
    await client.remove(agent);
    expect((await client.prompts()).some((p) => p.session_id === agent)).toBe(false);
  });
});

describe('serve --resume-lost', () => {
  it('says which lost sessions it relaunched, and as what', async () => {
    const other = await startTestDaemon({ serveArgs: ['--no-http', '--resume-lost'] });
    try {
      writeRuntimes(other.stateDir, { scripted: scriptedRuntime() });
      let otherClient = await other.connect();
      const { sessionId: id } = await otherClient.createSession({
        runtime: 'scripted',
        name: 'gamma',
        cwd: '/tmp',
      });
      await waitState(otherClient, id, 'idle');
      otherClient.end();
      await other.crash();
      await other.restart();
      otherClient = await other.connect();
      const relaunched = (await otherClient.list()).find((s) => s.resumed_from === id);
      expect(relaunched).toBeDefined();
      await waitFor(() => other.output().includes(relaunched!.id), 'the relaunch in serve output');
      expect(other.output()).toMatch(/^1 session was lost when the daemon stopped; 1 relaunched/m);
      expect(other.output()).toMatch(
        new RegExp(`^ +${id} +gamma +scripted +/tmp +relaunched as ${relaunched!.id}$`, 'm'),
      );
      const replayed: AttentionEvent[] = [];
      otherClient.on('attention', (event) => replayed.push(event));
      await otherClient.watchAttention({ replay: true });
      expect(replayed.filter((e) => e.kind === 'lost')).toEqual([
        expect.objectContaining({
          session_id: id,
          excerpt: expect.stringContaining(`relaunched as ${relaunched!.id}`),
        }),
      ]);
      otherClient.end();
    } finally {
      await other.dispose();
    }
  });
});
