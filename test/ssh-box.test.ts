/**
 * SshBox against Debian's real sshd on 127.0.0.1: commands and their exit codes, a 5 MB round trip
 * byte-exact, a reader that stops stops the program on the box (no memory growth), kill ends the whole
 * process group there, 50 concurrent commands share ONE TCP connection (past sshd's MaxSessions of 10),
 * a link cut (sshd killed, or its connection processes frozen as on a dead network) is noticed and
 * recovered, ssh-agent auth, a jump host, and the box-generic exec and probe on top.
 */
import { execFileSync, spawn as spawnChild } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoxLinkState, BoxProcess } from '../dist/substrates/box/types.js';
import { SshConfig } from '../dist/substrates/ssh/config.js';
import { SshBox, type SshBoxOptions } from '../dist/substrates/ssh/connection.js';
import { sshSubstrate } from '../dist/substrates/ssh/index.js';
import { waitFor } from './support/daemon.js';
import { failWithoutSshd, HAVE_SSHD, startSshd, type TestSshd } from './support/sshd.js';

failWithoutSshd('ssh box');

const scratch = mkdtempSync(join(tmpdir(), 'tower-ssh-box-'));
const FAST: Partial<SshBoxOptions> = {
  backoffMs: [100, 200, 400],
  downRetryMs: 1000,
  readyTimeoutMs: 10_000,
};
const boxes: SshBox[] = [];

function config(sshd: TestSshd, extra: Record<string, unknown> = {}) {
  return SshConfig.parse({
    name: 'box',
    type: 'ssh',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identity: sshd.userKey,
    agent: false,
    ...extra,
  });
}

function makeBox(sshd: TestSshd, extra: Record<string, unknown> = {}, stateDir = scratch): SshBox {
  const box = new SshBox(config(sshd, extra), { stateDir, ...FAST });
  boxes.push(box);
  return box;
}

async function run(process_: BoxProcess, input?: Buffer | string) {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process_.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process_.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  process_.stdin.end(input);
  const status = await process_.exit;
  return { ...status, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function recordLinks(box: SshBox): { states: BoxLinkState[]; at: number[] } {
  const record = { states: [] as BoxLinkState[], at: [] as number[] };
  box.on('link', (state) => {
    record.states.push(state);
    record.at.push(Date.now());
  });
  return record;
}

describe.runIf(HAVE_SSHD)('ssh box', () => {
  let sshd: TestSshd;
  let box: SshBox;

  beforeAll(async () => {
    sshd = await startSshd();
    writeFileSync(join(scratch, 'known_hosts'), `${sshd.knownHostsLine}\n`);
    box = makeBox(sshd);
    await box.whenUp(20_000);
  });

  afterAll(async () => {
    for (const made of boxes) made.close();
    await sshd?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs commands with their exit code, signal, stderr, cwd and environment', async () => {
    expect(await run(await box.spawn(['sh', '-c', 'echo out; echo err >&2; exit 3']))).toMatchObject({
      code: 3,
      signal: null,
      stdout: 'out\n',
      stderr: 'err\n',
    });
    expect(await run(await box.spawn(['sh', '-c', 'kill -TERM $$']))).toMatchObject({
      code: null,
      signal: 'TERM',
    });
    const placed = await run(
      await box.spawn(['sh', '-c', 'pwd; printf "%s" "$GREETING"'], {
        cwd: '/tmp',
        env: { GREETING: "it's $HOME" },
      }),
    );
    expect(placed.stdout).toBe("/tmp\nit's $HOME");
    expect(await run(await box.spawn(['/no/such/program']))).toMatchObject({ code: 127 });
  });

  it('carries 5 MB through stdin and back byte-exact', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const cat = await box.spawn(['cat']);
    const received: Buffer[] = [];
    cat.stdout.on('data', (chunk: Buffer) => received.push(chunk));
    cat.stderr.resume();
    Readable.from([data.subarray(0, 2_000_000), data.subarray(2_000_000)]).pipe(cat.stdin);
    expect(await cat.exit).toEqual({ code: 0, signal: null });
    const back = Buffer.concat(received);
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  it('a reader that stops stops the program on the box, with bounded memory', async () => {
    const pidFile = join(scratch, 'writer.pid');
    const total = 256 * 1024 * 1024;
    const writer = await box.spawn(['sh', '-c', `echo $$ > ${pidFile}; exec head -c ${total} /dev/zero`]);
    writer.stderr.resume();
    writer.stdout.pause();
    const pid = Number(
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim(), 'pid'),
    );
    const written = () => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
    const rssBefore = process.memoryUsage().rss;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const first = written();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(written()).toBe(first);
    expect(first).toBeLessThan(16 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(48 * 1024 * 1024);
    let received = 0;
    writer.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    writer.stdout.resume();
    expect(await writer.exit).toEqual({ code: 0, signal: null });
    expect(received).toBe(total);
  });

  it('kill ends the program and what it started, on the box', async () => {
    const pids = join(scratch, 'kill.pids');
    const victim = await box.spawn(['sh', '-c', `trap '' HUP TERM; sleep 1000 & echo $$ $! > ${pids}; wait`]);
    victim.stdout.resume();
    victim.stderr.resume();
    const [shell, child] = (
      await waitFor(() => existsSync(pids) && readFileSync(pids, 'utf8').trim(), 'pids')
    )
      .split(' ')
      .map(Number) as [number, number];
    expect(alive(shell) && alive(child)).toBe(true);
    victim.kill();
    expect(await victim.exit).toEqual({ code: null, signal: 'KILL' });
    await waitFor(() => !alive(shell) && !alive(child), 'the shell and its sleep to end');

    const terminal = await box.spawnTerminal(['sh', '-c', `echo $$ > ${pids}; exec sleep 1000`], {
      cols: 80,
      rows: 24,
    });
    terminal.stdout.resume();
    const sleeper = Number(await waitFor(() => existsSync(pids) && readFileSync(pids, 'utf8').trim(), 'pid'));
    terminal.kill();
    await terminal.exit;
    await waitFor(() => !alive(sleeper), 'the terminal program to end');
  });

  it('a terminal has its size, TERM and resize', async () => {
    const terminal = await box.spawnTerminal(['sh', '-c', 'stty size; echo $TERM; read _; stty size'], {
      cols: 100,
      rows: 30,
    });
    let output = '';
    terminal.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitFor(() => output.includes('xterm-256color'), 'the first size');
    expect(output).toMatch(/^30 100\r\nxterm-256color\r\n/);
    terminal.resize(120, 40);
    await new Promise((resolve) => setTimeout(resolve, 200));
    terminal.stdin.write('\r');
    expect(await terminal.exit).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/40 120\r\n$/);
  });

  it('50 concurrent commands share one TCP connection', async () => {
    const before = sshd.connections();
    expect(before).toBe(1);
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, sshd.connections());
    }, 20);
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, index) =>
        run(await box.spawn(['sh', '-c', `sleep 0.1; echo ${index}`])),
      ),
    );
    clearInterval(sampler);
    console.log(`50 concurrent commands over one connection: ${Date.now() - started} ms`);
    expect(results.map((result) => result.stdout)).toEqual(
      Array.from({ length: 50 }, (_, index) => `${index}\n`),
    );
    expect({ most, before }).toEqual({ most: 1, before: 1 });
    expect(sshd.connections()).toBe(1);
  });

  it('streamBox and probeBox run on it', async () => {
    const substrate = sshSubstrate(config(sshd, { name: 'remote' }), { stateDir: scratch }, FAST);
    try {
      expect(await substrate.state()).toEqual({ state: 'ready', reason: null });
      const result = await substrate.exec({ argv: ['sh', '-c', 'echo done; exit 3'] });
      expect(result).toMatchObject({ exit_code: 3, signal: null, timed_out: false });
      expect(result.stdout.toString()).toBe('done\n');
      const probe = await substrate.probe({
        cwd: '/',
        env: {},
        programs: ['sh', 'no-such-program-here'],
        variables: ['HOME'],
        files: ['~/.'],
      });
      expect(probe.programs.sh).toMatch(/^\/(usr\/)?bin\/sh$/);
      expect(probe.programs['no-such-program-here']).toBeNull();
      expect(probe.variables.HOME).toBe(true);
    } finally {
      substrate.close();
    }
  });

  it('notices sshd killed, reconnects once it is back', async () => {
    const lively = makeBox(sshd, { keepalive_ms: 500 });
    await lively.whenUp(10_000);
    const links = recordLinks(lively);
    const cut = Date.now();
    sshd.kill();
    await waitFor(() => lively.link().state === 'connecting', 'connecting', 5000);
    console.log(`sshd killed: connecting after ${Date.now() - cut} ms (${JSON.stringify(lively.link())})`);
    await waitFor(() => /refused/.test(JSON.stringify(lively.link())), 'connection refused while it is down');
    const back = Date.now();
    await sshd.start();
    await lively.whenUp(10_000);
    console.log(`sshd restarted: up again after ${Date.now() - back} ms`);
    expect(links.states[0]).toMatchObject({ state: 'connecting' });
    expect(links.states.at(-1)).toEqual({ state: 'up' });
    expect((await run(await lively.spawn(['echo', 'again']))).stdout).toBe('again\n');
    lively.close();
    await box.whenUp(10_000);
  });

  it('notices a link that hangs (network cut) through keepalives', async () => {
    const lively = makeBox(sshd, { keepalive_ms: 500 });
    await lively.whenUp(10_000);
    const links = recordLinks(lively);
    const frozen = sshd.connectionPids();
    const cut = Date.now();
    sshd.pause();
    try {
      await waitFor(() => links.states.some((state) => state.state === 'connecting'), 'connecting', 5000);
      const detected = (links.at[0] ?? Date.now()) - cut;
      console.log(`network cut: connecting after ${detected} ms: ${JSON.stringify(links.states[0])}`);
      expect(detected).toBeLessThan(5000);
      expect(JSON.stringify(links.states[0])).toMatch(/keepalive/);
      await lively.whenUp(10_000);
    } finally {
      for (const pid of frozen) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {}
      }
    }
    lively.drop('dropped by the test');
    expect(lively.link()).toEqual({ state: 'connecting', reason: 'dropped by the test' });
    await lively.whenUp(10_000);
    lively.close();
    expect(lively.link()).toEqual({ state: 'closed' });
    await expect(lively.whenUp()).rejects.toThrow(/closed/);
  });

  it('a key the box refuses is down, not retried in a tight loop', async () => {
    const strangerKey = join(scratch, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strangerKey]);
    const refused = makeBox(sshd, { identity: strangerKey });
    await expect(refused.whenUp(10_000)).rejects.toThrow(/authentication failed for .*127\.0\.0\.1/);
    expect(refused.link()).toMatchObject({ state: 'down' });
    expect(JSON.stringify(refused.link())).not.toContain(readFileSync(strangerKey, 'utf8').split('\n')[1]);
  });

  it('authenticates with a real ssh-agent', async () => {
    const socket = join(scratch, 'agent.sock');
    const agent = spawnChild('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      await waitFor(() => existsSync(socket), 'the agent socket');
      execFileSync('ssh-add', ['-q', sshd.userKey], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        stdio: 'ignore',
      });
      process.env.SSH_AUTH_SOCK = socket;
      const agented = makeBox(sshd, { identity: undefined, agent: true });
      await agented.whenUp(10_000);
      expect((await run(await agented.spawn(['echo', 'agent']))).stdout).toBe('agent\n');
      agented.close();
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.kill();
    }
  });

  it('goes through a jump host', async () => {
    const jump = await startSshd({ userKey: sshd.userKey });
    try {
      const stateDir = mkdtempSync(join(scratch, 'jump-'));
      writeFileSync(join(stateDir, 'known_hosts'), `${sshd.knownHostsLine}\n${jump.knownHostsLine}\n`);
      const through = makeBox(sshd, { jump: { host: jump.host, port: jump.port } }, stateDir);
      await through.whenUp(10_000);
      expect((await run(await through.spawn(['echo', 'through']))).stdout).toBe('through\n');
      expect(jump.connections()).toBe(1);
      through.close();
    } finally {
      await jump.stop();
    }
  });
});
