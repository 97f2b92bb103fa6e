/**
 * Sessions live in the session host, not in `tower serve`: the control plane is killed (-9) twenty
 * times while five sessions stream and an agent holds a queued prompt, and each time a new one adopts
 * every session; the journals hold every byte the programs wrote, the queued prompt is still queued.
 * A control plane from a new build adopts the sessions of the running host. Stopping the host ends
 * them, and they are reported lost once.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { scriptedRuntime, waitState, writeRuntimes } from './support/agents.js';
import { killLeftovers, runCli, startCli } from './support/cli.js';
import { ROOT, readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

const RESTARTS = 20;
const STREAMERS = 5;
const LINES = 4000;

/** Line i of streamer s, as the program prints it (the PTY turns \n into \r\n). */
const expected = (s: number) =>
  Array.from({ length: LINES }, (_, i) => `s${s} line ${i} ${'x'.repeat(40)}\r\n`).join('');

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeRuntimes(daemon.stateDir, { endless: scriptedRuntime({ args: ['--work-ms=600000'] }) });
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
});

describe('the control plane restarts; the sessions stay', () => {
  it(`kill -9 ${RESTARTS} times while ${STREAMERS} sessions stream: all adopted, not a byte lost, the queue kept`, async () => {
    const streamers: string[] = [];
    for (let s = 0; s < STREAMERS; s++) {
      const { sessionId } = await client.createSession({
        shell: '/bin/sh',
        // About 3 s of output at a steady pace, so that the kills fall in the middle of it.
        args: [
          '-c',
          `i=0; while [ $i -lt ${LINES} ]; do printf 's${s} line %d ${'x'.repeat(40)}\\n' $i; i=$((i+1)); [ $((i % 200)) = 0 ] && sleep 0.1; done; sleep 600`,
        ],
        cwd: '/tmp',
      });
      streamers.push(sessionId);
    }
    const { sessionId: agent } = await client.createSession({ runtime: 'endless', cwd: '/tmp' });
    await waitState(client, agent, 'idle');
    const first = await client.sendPrompt(agent, 'the long one');
    expect(first.state).not.toBe('queued');
    await waitState(client, agent, 'busy');
    const queued = await client.sendPrompt(agent, 'waits its turn');
    expect(queued.state).toBe('queued');
    client.end();

    for (let round = 0; round < RESTARTS; round++) {
      await daemon.stopControlPlane(true);
      await daemon.restart();
      expect(daemon.output()).toMatch(new RegExp(`${STREAMERS + 1} running sessions adopted`));
      client = await daemon.connect();
      const sessions = await client.list();
      for (const id of [...streamers, agent]) {
        expect(sessions.find((session) => session.id === id)?.status, `${id} after restart ${round}`).toBe(
          'running',
        );
      }
      const prompts = await client.prompts(agent);
      expect(prompts.find((prompt) => prompt.id === queued.id)?.state, `after restart ${round}`).toBe(
        'queued',
      );
      client.end();
    }

    client = await daemon.connect();
    for (const [s, id] of streamers.entries()) {
      await waitFor(
        async () => (await readAllOutput(client, id)).length >= expected(s).length,
        `all output of streamer ${s}`,
        30_000,
      );
      expect((await readAllOutput(client, id)).toString()).toBe(expected(s));
    }
    expect((await client.prompts(agent)).find((prompt) => prompt.id === queued.id)?.state).toBe('queued');
  }, 240_000);

  it('a control plane from a new build adopts the running sessions; host status names both', async () => {
    const sessionId = await sleeperThenStopServe();
    // The new build: a copy of bin/ and dist/ with another version, on the same node_modules.
    const build = mkdtempSync(join(tmpdir(), 'tower-new-build-'));
    try {
      cpSync(join(ROOT, 'bin'), join(build, 'bin'), { recursive: true });
      cpSync(join(ROOT, 'dist'), join(build, 'dist'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(build, 'node_modules'));
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
      writeFileSync(join(build, 'package.json'), JSON.stringify({ ...pkg, version: '9.9.9-next' }));
      const serve = await runCliFrom(build, daemon.stateDir);
      try {
        expect(serve.output()).toMatch(
          /Session host running \(pid \d+, Tower 0\.\d+\.\d+\); \d+ running sessions adopted/,
        );
        client = await daemon.connect();
        expect((await client.list()).find((session) => session.id === sessionId)?.status).toBe('running');
        const status = await runCli(daemon.stateDir, ['host', 'status']);
        expect(status.stdout).toMatch(/control plane attached/);
      } finally {
        serve.child.kill('SIGTERM');
      }
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
    await daemon.restart();
  });

  it('tower events and attach follow across a control-plane restart', async () => {
    client.end();
    client = await daemon.connect();
    const watcher = startCli(daemon.stateDir, ['events', '--json']);
    const failing = async () => {
      const { sessionId } = await client.createSession({
        shell: '/bin/sh',
        args: ['-c', 'exit 3'],
        cwd: '/tmp',
      });
      await waitFor(
        () => watcher.stdout().includes(`"session_id":"${sessionId}"`),
        `tower events to report ${sessionId}: ${watcher.stdout()}${watcher.stderr()}`,
        15_000,
      );
    };
    await failing();
    const { sessionId: shell } = await client.createSession({ shell: '/bin/cat', cwd: '/tmp' });
    const follower = startCli(daemon.stateDir, ['logs', '--follow', shell]);
    await daemon.stopControlPlane(true);
    // The host alone still takes input and streams it.
    await client.write(shell, 'typed while serve was down\n');
    await waitFor(() => follower.stdout().includes('typed while serve was down'), 'logs --follow to go on');
    await daemon.restart();
    await failing();
    watcher.child.kill();
    follower.child.kill();
  });

  it('tower host stop ends the sessions; the next start reports them lost, once', async () => {
    const sessionId = await sleeperThenStopServe();
    const stopped = await runCli(daemon.stateDir, ['host', 'stop']);
    expect(stopped.code).toBe(0);
    await waitFor(() => daemon.hostPid() === null, 'the host to stop');
    await daemon.restart();
    client = await daemon.connect();
    // A graceful stop ends them: exited, not lost.
    expect((await client.list()).find((session) => session.id === sessionId)?.status).toBe('exited');
    await client.createSession({ shell: '/bin/sh', args: ['-c', 'sleep 600'], cwd: '/tmp' });
    client.end();
    // kill -9 of the host as well: its sessions die with it.
    await daemon.crash();
    await daemon.restart();
    expect(daemon.output()).toMatch(/sessions? (was|were) lost/);
    await daemon.stopControlPlane();
    await daemon.restart();
    expect(daemon.output()).not.toMatch(/lost when/);
    client = await daemon.connect();
  });
});

/** A fresh session that sleeps, then `tower serve` stopped (the host and the session go on). */
async function sleeperThenStopServe(): Promise<string> {
  client.end();
  client = await daemon.connect();
  const { sessionId } = await client.createSession({
    shell: '/bin/sh',
    args: ['-c', 'sleep 600'],
    cwd: '/tmp',
  });
  client.end();
  await daemon.stopControlPlane();
  return sessionId;
}

/** `tower serve --no-http` from another build's bin/tower.js, once it says it listens. */
async function runCliFrom(build: string, stateDir: string) {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [join(build, 'bin', 'tower.js'), '--state-dir', stateDir, 'serve', '--no-http'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor(() => output.includes('adopted'), `the new build to start: ${output}`, 15_000);
  return { child, output: () => output };
}
