/**
 * The checks every substrate must pass (test/substrate-conformance*.test.ts run them on each): exec
 * (bounded, timed out), streamExec (ordered, bounded, killed when the reader stops), the probe; and
 * through the real daemon: a PTY that echoes, resizes, delivers every byte of 50 fast writers before
 * their exit, and is ended by kill (SIGHUP to the program itself, SIGKILL after the grace period),
 * leaving nothing running even when ended as it starts.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { TowerClient } from '../../dist/client/client.js';
import type { ExecEvent, Substrate } from '../../dist/substrates/types.js';
import { sessionInfo } from './agents.js';
import { collectOutput, readAllOutput, waitFor } from './daemon.js';

const WRITERS = 50;
export const MAX_BYTES = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export interface ConformanceSetup {
  name: string;
  substrate(): Substrate;
  client(): TowerClient;
  /** The workspace as the substrate sees it; it holds random.bin (the first MAX_BYTES of `source`). */
  cwd: string;
  source: Buffer;
  /** Its sessions outlive the daemon (ssh, docker): reattach is checked elsewhere. */
  remote?: boolean;
}

export function conformanceChecks(setup: ConformanceSetup): void {
  const { source } = setup;
  it('is ready', async () => {
    expect(await setup.substrate().state()).toEqual({ state: 'ready', reason: null });
  });

  it('exec: stdout, stderr and the exit code; output bounded; a timeout kills it', async () => {
    const done = await setup.substrate().exec({
      argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      cwd: setup.cwd,
    });
    expect(done).toMatchObject({ exit_code: 3, signal: null, truncated: false, timed_out: false });
    expect([done.stdout.toString(), done.stderr.toString()]).toEqual(['out\n', 'err\n']);
    const big = await setup.substrate().exec({
      argv: ['head', '-c', '3000000', '/dev/zero'],
      maxOutputBytes: 1000,
    });
    expect(big).toMatchObject({ exit_code: 0, truncated: true });
    expect(big.stdout.length).toBe(1000);
    const slow = await setup.substrate().exec({ argv: ['sleep', '30'], timeoutMs: 300 });
    expect(slow.timed_out).toBe(true);
    const input = await setup.substrate().exec({ argv: ['cat'], input: 'typed in' });
    expect(input.stdout.toString()).toBe('typed in');
    await expect(setup.substrate().exec({ argv: ['no-such-program-here'] })).rejects.toMatchObject({
      code: 'command_not_found',
    });
  });

  it('streamExec: events in order, every byte of a large output to a slow reader, exit last', async () => {
    const script = 'echo first; echo oops >&2; yes 0123456789 | head -c 4000000; exit 5';
    const events: ExecEvent[] = [];
    let stdoutBytes = 0;
    for await (const event of setup.substrate().streamExec({ argv: ['sh', '-c', script], cwd: setup.cwd })) {
      events.push(event);
      if (event.type === 'stdout') stdoutBytes += event.data.length;
      // A slow reader: the command must wait for it, not the daemon buffer for the command.
      if (events.length % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(events.at(-1)).toMatchObject({ type: 'exit', exit_code: 5, signal: null });
    expect(events.filter((event) => event.type === 'exit')).toHaveLength(1);
    expect(stdoutBytes).toBe('first\n'.length + 4_000_000);
    const stderr = events.filter((event) => event.type === 'stderr');
    expect(Buffer.concat(stderr.map((event) => (event as { data: Buffer }).data)).toString()).toBe('oops\n');
  });

  it('streamExec: a reader that stops ends the command', async () => {
    const started = Date.now();
    for await (const event of setup
      .substrate()
      .streamExec({ argv: ['sh', '-c', 'echo go; exec sleep 30'] })) {
      expect(event.type).toBe('stdout');
      break;
    }
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('probe: programs on its PATH, variables that reach it, files it sees', async () => {
    // A box has its own HOME (only GIVEN crosses to it): the workspace file is named whole there.
    const file = setup.remote ? `${setup.cwd}/random.bin` : '~/random.bin';
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: setup.cwd, GIVEN: 'yes' };
    const found = await setup.substrate().probe({
      cwd: setup.cwd,
      env,
      access: { givenEnv: ['GIVEN'], credentialEnv: [], credentialFiles: [], readOnly: [] },
      programs: ['sh', 'no-such-program-here'],
      variables: ['GIVEN', 'NOT_SET_ANYWHERE'],
      files: [file, '/no/such/file'],
    });
    expect(found.programs.sh).toMatch(/\/sh$/);
    expect(found.programs['no-such-program-here']).toBeNull();
    expect(found.variables).toEqual({ GIVEN: true, NOT_SET_ANYWHERE: false });
    expect(found.files).toEqual({ [file]: true, '/no/such/file': false });
  });

  it.skipIf(setup.remote)('reattach is not supported: its sessions end with the daemon', async () => {
    const resume = { offset: 0, command: 'sh', cols: 80, rows: 24 };
    expect(() => setup.substrate().reattach('x', resume)).toThrow(
      expect.objectContaining({ code: 'not_supported' }),
    );
  });

  it('a PTY session echoes what is typed, and says where it runs', async () => {
    const { sessionId } = await setup.client().createSession({
      substrate: setup.name,
      shell: '/bin/cat',
      cwd: setup.cwd,
    });
    const output = collectOutput(setup.client(), sessionId);
    await setup.client().subscribe(sessionId, { fromOffset: 0 });
    await setup.client().write(sessionId, 'echo me\r');
    await waitFor(() => output.text().includes('echo me'), 'the echo');
    expect(await sessionInfo(setup.client(), sessionId)).toMatchObject({
      substrate: setup.name,
      status: 'running',
    });
    await setup.client().close(sessionId);
  });

  it('a PTY session resizes: the program sees the new size', async () => {
    const { sessionId } = await setup.client().createSession({
      substrate: setup.name,
      shell: '/bin/sh',
      cwd: setup.cwd,
      cols: 80,
      rows: 24,
    });
    const output = collectOutput(setup.client(), sessionId);
    await setup.client().subscribe(sessionId, { fromOffset: 0 });
    await setup.client().resize(sessionId, 123, 45);
    await setup.client().write(sessionId, 'stty size\r');
    await waitFor(() => output.text().includes('45 123'), 'stty size saying 45 123');
    expect(await sessionInfo(setup.client(), sessionId)).toMatchObject({ cols: 123, rows: 45 });
    await setup.client().close(sessionId);
  });

  it(`no byte is lost at exit: ${WRITERS} fast writers, every byte journaled before the exit`, async () => {
    const failures: string[] = [];
    for (let run = 0; run < WRITERS; run++) {
      const size = 1 + Math.floor(Math.random() * MAX_BYTES);
      const exitCode = run % 7;
      // Raw mode: no output processing, so the bytes on the terminal are the file's bytes.
      const script = `stty raw -echo; head -c ${size} random.bin; exit ${exitCode}`;
      const { sessionId } = await setup.client().createSession({
        substrate: setup.name,
        shell: '/bin/sh',
        args: ['-c', script],
        cwd: setup.cwd,
      });
      const info = await waitFor(async () => {
        const current = await sessionInfo(setup.client(), sessionId);
        return current.status !== 'running' && current;
      }, `writer ${run} to exit`);
      const journaled = await readAllOutput(setup.client(), sessionId, 0);
      if (journaled.length !== size || sha256(journaled) !== sha256(source.subarray(0, size))) {
        failures.push(`run ${run}: wrote ${size}, journaled ${journaled.length}`);
      }
      if (info.exit_code !== exitCode)
        failures.push(`run ${run}: exit code ${info.exit_code}, not ${exitCode}`);
      await setup.client().remove(sessionId);
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('a session ended as it starts, or a command timed out, leaves nothing running', async () => {
    const marker = String(900_000 + (process.pid % 90_000));
    for (let run = 0; run < 10; run++) {
      const { sessionId } = await setup
        .client()
        .createSession({ substrate: setup.name, shell: 'sleep', args: [marker] });
      await setup.client().close(sessionId);
    }
    await setup.substrate().exec({ argv: ['sh', '-c', `sleep ${marker} & sleep ${marker}`], timeoutMs: 100 });
    await waitFor(() => running(marker).length === 0, `no sleep ${marker} left (${running(marker)})`, 5000);
  });

  it('kill hangs up the program itself (its own SIGHUP handler runs), after its last output', async () => {
    const script = 'trap "echo got-hangup; exit 7" HUP; echo ready; while :; do sleep 0.1; done';
    const { sessionId } = await setup.client().createSession({
      substrate: setup.name,
      shell: '/bin/sh',
      args: ['-c', script],
      cwd: setup.cwd,
    });
    const output = collectOutput(setup.client(), sessionId);
    await setup.client().subscribe(sessionId, { fromOffset: 0 });
    await waitFor(() => output.text().includes('ready'), 'ready');
    await setup.client().close(sessionId);
    await waitFor(() => output.closed(), 'session_closed');
    expect(output.text()).toContain('got-hangup');
    expect(output.closed()).toEqual({ exitCode: 7, signal: null });
  });

  it('kill ends a program that ignores the hangup with SIGKILL; a signal that ends one is reported', async () => {
    const { sessionId } = await setup.client().createSession({
      substrate: setup.name,
      shell: '/bin/sh',
      args: ['-c', 'trap "" HUP; echo ready; exec sleep 30'],
      cwd: setup.cwd,
    });
    const output = collectOutput(setup.client(), sessionId);
    await setup.client().subscribe(sessionId, { fromOffset: 0 });
    await waitFor(() => output.text().includes('ready'), 'ready');
    await setup.client().close(sessionId);
    expect(await sessionInfo(setup.client(), sessionId)).toMatchObject({ status: 'exited', exit_signal: 9 });
    const killed = await setup.client().createSession({
      substrate: setup.name,
      shell: '/bin/sh',
      args: ['-c', 'kill -TERM $$'],
    });
    const info = await waitFor(async () => {
      const current = await sessionInfo(setup.client(), killed.sessionId);
      return current.status !== 'running' && current;
    }, 'the program to end');
    expect(info).toMatchObject({ status: 'exited', exit_signal: 15 });
  });
}

/** Pids of processes whose command line holds `word`. */
function running(word: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(word);
      } catch {
        return false;
      }
    })
    .map(Number);
}
