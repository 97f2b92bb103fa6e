/**
 * `tower events`, `logs --follow` and `attach` when the daemon goes away (kill -9) and comes back:
 * they wait for it, say so without printing over anything, and go on where they were.
 * The real daemon (crashed and restarted on its state dir), the real CLI, `attach` on a real PTY.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { scriptedRuntime, waitState, writeRuntimes } from './support/agents.js';
import { AttachedTerminal, describeResult, killLeftovers, runCliOk, startCli } from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient | null = null;

beforeAll(async () => {
  process.env.SHELL = '/bin/bash';
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeRuntimes(daemon.stateDir, { scripted: scriptedRuntime() });
});

beforeEach(async () => {
  // A test that failed half-way may have left the daemon down.
  if (daemon.process.exitCode !== null || daemon.process.signalCode !== null) await daemon.restart();
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
});

const ok = (...args: string[]) => runCliOk(daemon.stateDir, args);

/** kill -9 the daemon (the test's client goes with it). */
async function crash(): Promise<void> {
  client?.end();
  client = null;
  await daemon.crash();
}

async function restart(): Promise<TowerClient> {
  await daemon.restart();
  client = await daemon.connect();
  return client;
}

describe('tower events', () => {
  it('says once that the daemon went away, waits, and goes on printing events after it returns', async () => {
    const events = startCli(daemon.stateDir, ['events']);
    // It misses what happens before it is connected: probe until it prints one.
    const probes: string[] = [];
    await waitFor(
      async () => {
        probes.push((await ok('spawn', '--', '/bin/sh', '-c', 'exit 3')).stdout.trim());
        await waitFor(() => events.stdout().length > 0, 'a first event', 2_000).catch(() => {});
        return probes.some((probe) => events.stdout().includes(probe));
      },
      'the first event',
      30_000,
    );
    await crash();
    await waitFor(() => events.stderr().includes('went away'), 'the notice on stderr');
    expect(events.child.exitCode, events.stderr()).toBe(null);
    const live = await restart();
    await waitFor(
      () => events.stderr().includes('connected to the daemon again'),
      'the reconnection',
      20_000,
    );
    const after = (await ok('spawn', 'scripted', '--cwd', '/tmp')).stdout.trim();
    await waitState(live, after, 'idle');
    await ok('send', after, '--prompt', 'ask again');
    await waitFor(
      () =>
        events
          .stdout()
          .split('\n')
          .some((line) => line.includes(after) && line.includes('needs_input')),
      'an event after the restart',
      20_000,
    );
    // Reconnection attempts failed while the daemon was down; the notice was not repeated.
    expect(events.stderr().split('went away').length - 1).toBe(1);
    expect(events.child.exitCode).toBe(null);
    events.child.kill();
  });
});

describe('tower logs --follow', () => {
  it('resumes from the next offset after a restart: no gap, no duplicate; ends when the session is gone', async () => {
    const id = (
      await ok(
        'spawn',
        '--',
        '/bin/sh',
        '-c',
        'i=0; while :; do i=$((i+1)); echo "line-$i"; sleep 0.005; done',
      )
    ).stdout.trim();
    const follow = startCli(daemon.stateDir, ['logs', id, '--follow']);
    await waitFor(() => follow.stdout().includes('line-200\r\n'), 'followed output');
    await crash();
    await waitFor(() => follow.stderr().includes('went away'), 'the notice on stderr');
    expect(follow.child.exitCode).toBe(null);
    const live = await restart();
    const result = await follow.done;
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stderr).toMatch(/lost/);
    const journal = await readAllOutput(live, id);
    expect(journal.length).toBeGreaterThan(0);
    expect(result.stdoutBytes.equals(journal), 'followed bytes equal the journal').toBe(true);
  });
});

describe('tower attach', () => {
  it('keeps the screen while the daemon is away (the title says so), then shows the last screen of a lost session', async () => {
    const id = (await ok('spawn', '--', '/bin/bash', '--norc', '--noprofile')).stdout.trim();
    await ok('send', id, 'echo before-$((20+1))', '--enter');
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id], { cols: 90, rows: 20 });
    await attached.waitForScreen((rows) => rows.includes('before-21'), 'the attached screen');
    const screenBefore = await attached.screen();
    await crash();
    await waitFor(
      () => attached.titles.some((title) => /daemon/.test(title)),
      'a title saying the daemon is away',
    );
    expect(attached.exit, attached.output).toBe(null);
    // Nothing was printed over the program's screen.
    expect(await attached.screen()).toEqual(screenBefore);
    // Keys typed meanwhile go nowhere and do no harm.
    attached.type('echo typed-while-away\r');

    await restart();
    const exit = await attached.waitForExit(20_000);
    expect(exit.exitCode, attached.output).toBe(0);
    const rows = await attached.screen();
    expect(rows, rows.join('\n')).toContain('before-21');
    expect(attached.output).toMatch(new RegExp(`session ${id} was lost`));
    expect(attached.output).not.toContain('typed-while-away');
  });

  it('exits when detached while the daemon is away', async () => {
    const id = (await ok('spawn', '--', '/bin/bash', '--norc', '--noprofile')).stdout.trim();
    await ok('send', id, 'echo here-$((2+2))', '--enter');
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id]);
    await attached.waitForScreen((rows) => rows.includes('here-4'), 'the attached screen');
    await crash();
    await waitFor(
      () => attached.titles.some((title) => /daemon/.test(title)),
      'a title saying the daemon is away',
    );
    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    expect(attached.output).toContain(`[detached from ${id}`);
    await restart();
  });
});
