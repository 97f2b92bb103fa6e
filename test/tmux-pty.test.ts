/**
 * Sessions as tmux windows on a box (LocalBox: this machine, real tmux), driven over one control
 * channel: echo, 1 MiB of raw bytes byte-exact, exit codes and signals, no loss at exit with 50 fast
 * writers, resize, input_full, kill, reattach after the control client is killed and after a Tower
 * restart, and exactly one control client for ten sessions. Each file uses its own tmux socket.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import {
  listTmuxSessions,
  openTmuxPty,
  reattachTmux,
  TmuxHost,
  type TmuxOpenSpec,
} from '../dist/substrates/tmux/tmux-host.js';
import type { TmuxPty } from '../dist/substrates/tmux/tmux-pty.js';
import { spawnPty } from '../dist/terminal/pty.js';

const socket = `tower-test-${randomBytes(4).toString('hex')}`;
const scratch = mkdtempSync(join(tmpdir(), 'tower-tmux-'));
const box = new LocalBox('tmux-test-box');
const options = { socket, pollMs: 200 };
let nextId = 0;

afterAll(() => {
  TmuxHost.for(box, options).close();
  try {
    execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  } catch {}
  // tmux leaves its socket file behind a killed server.
  rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.()}`, socket), { force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function spec(command: string, args: string[], more: Partial<TmuxOpenSpec> = {}): TmuxOpenSpec {
  return { sessionId: `t${nextId++}`, command, args, cwd: scratch, env: {}, cols: 80, rows: 24, ...more };
}

interface Run {
  pty: TmuxPty;
  output: () => Buffer;
  exited: Promise<{ exitCode: number; signal: number | null }>;
}

function run(pty: TmuxPty): Run {
  const chunks: Buffer[] = [];
  pty.onData((chunk) => chunks.push(chunk));
  const exited = new Promise<{ exitCode: number; signal: number | null }>((resolve) => pty.onExit(resolve));
  return { pty, output: () => Buffer.concat(chunks), exited };
}

async function until<T>(check: () => T | false | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const sh = (script: string, more?: Partial<TmuxOpenSpec>) =>
  openTmuxPty(box, spec('sh', ['-c', script], more), options);
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Pids of `tmux -C` clients on this socket (the server, forked from the first client, has its argv). */
function controlClients(): number[] {
  const server = Number(execFileSync('tmux', ['-L', socket, 'display', '-p', '#{pid}']).toString());
  const list = execFileSync('ps', ['-eo', 'pid=,args=']).toString().split('\n');
  return list
    .filter((line) => line.includes(`-L ${socket}`) && / -C /.test(line))
    .map((line) => Number.parseInt(line, 10))
    .filter((pid) => pid !== server);
}

describe('tmux sessions over one control channel', () => {
  it('echoes through cat (latency measured)', async () => {
    const r = run(await openTmuxPty(box, spec('cat', []), options));
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = r.output().length;
      const started = process.hrtime.bigint();
      r.pty.write(`ping${i}\r`);
      await until(() => r.output().subarray(before).includes(`ping${i}\r\n`), `echo ${i}`);
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const direct = spawnPty({
      command: 'cat',
      args: [],
      cwd: scratch,
      env: process.env as Record<string, string>,
      cols: 80,
      rows: 24,
    });
    let echoed = '';
    direct.onData((chunk) => {
      echoed += chunk.toString();
    });
    const reference: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = process.hrtime.bigint();
      direct.write(`ping${i}\r`);
      await until(() => echoed.includes(`ping${i}\r\n`), `direct echo ${i}`);
      reference.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    direct.kill('SIGKILL');
    const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[10]!.toFixed(2);
    console.log(`echo round trip p50: tmux control mode ${p50(samples)} ms, direct PTY ${p50(reference)} ms`);
    r.pty.write('\x04');
    expect(await r.exited).toEqual({ exitCode: 0, signal: null });
  });

  it('delivers 1 MiB of raw bytes (every byte value) exactly, as fast as a direct PTY nearly', async () => {
    const data = randomBytes(1024 * 1024);
    writeFileSync(join(scratch, 'random.bin'), data);
    const script = 'stty raw -echo; sleep 0.2; cat random.bin';
    let started = Date.now();
    const r = run(await sh(script));
    expect(await r.exited).toEqual({ exitCode: 0, signal: null });
    const tmuxMs = Date.now() - started;
    expect(r.output().length).toBe(data.length);
    expect(sha(r.output())).toBe(sha(data));

    started = Date.now();
    const direct = spawnPty({
      command: 'sh',
      args: ['-c', script],
      cwd: scratch,
      env: process.env as Record<string, string>,
      cols: 80,
      rows: 24,
    });
    const chunks: Buffer[] = [];
    direct.onData((chunk) => chunks.push(chunk));
    await new Promise((resolve) => direct.onExit(resolve));
    const directMs = Date.now() - started;
    expect(sha(Buffer.concat(chunks))).toBe(sha(data));
    const mbps = (ms: number) => (1 / ((ms - 200) / 1000)).toFixed(1);
    console.log(
      `1 MiB: tmux control mode ${tmuxMs} ms (~${mbps(tmuxMs)} MiB/s), direct PTY ${directMs} ms (~${mbps(directMs)} MiB/s), each incl. 200 ms sleep`,
    );
  });

  it('reports the exit code and the signal', async () => {
    expect(await run(await sh('exit 7')).exited).toEqual({ exitCode: 7, signal: null });
    expect(await run(await sh('kill -TERM $$')).exited).toEqual({ exitCode: 0, signal: 15 });
    const missing = run(await openTmuxPty(box, spec('no-such-program-xyz', []), options));
    expect(await missing.exited).toEqual({ exitCode: 127, signal: null });
  });

  it('loses no byte at exit with 50 fast writers', async () => {
    const script =
      'for i in $(seq 50); do (n=0; while [ $n -lt 40 ]; do printf "writer %02d line %02d ........................................\\n" $i $n; n=$((n+1)); done) & done; wait';
    const r = run(await sh(script));
    expect(await r.exited).toEqual({ exitCode: 0, signal: null });
    const text = r.output().toString();
    for (let i = 1; i <= 50; i++) {
      const lines = text.match(new RegExp(`writer ${String(i).padStart(2, '0')} line \\d\\d \\.{40}`, 'g'));
      expect(lines?.length, `writer ${i}`).toBe(40);
    }
  });

  it('resizes: stty size sees it', async () => {
    const r = run(await sh('stty size; read x; stty size; read y', { cols: 90, rows: 30 }));
    await until(() => r.output().toString().includes('30 90'), 'first size');
    r.pty.resize(132, 43);
    await new Promise((resolve) => setTimeout(resolve, 100));
    r.pty.write('\r');
    await until(() => r.output().toString().includes('43 132'), 'new size');
    r.pty.write('\r');
    await r.exited;
    expect(() => r.pty.resize(10, 10)).toThrow(/terminal is closed/);
  });

  it('refuses input with input_full when the program does not read', async () => {
    const r = run(await sh('stty -echo; sleep 30'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const error = await (async () => {
      try {
        for (let i = 0; i < 64; i++) {
          r.pty.write(chunk);
          sent += chunk.length;
        }
      } catch (e) {
        return e as { code?: string };
      }
      return null;
    })();
    expect(error?.code).toBe('input_full');
    expect(sent).toBeLessThanOrEqual(1024 * 1024);
    r.pty.kill('SIGKILL');
    expect(await r.exited).toEqual({ exitCode: 0, signal: 9 });
  });

  it('kill signals the program itself (SIGHUP by default)', async () => {
    const r = run(await sh('trap "echo got-hup; exit 5" HUP; echo ready; while :; do sleep 0.05; done'));
    await until(() => r.output().toString().includes('ready'), 'ready');
    r.pty.kill();
    expect(await r.exited).toEqual({ exitCode: 5, signal: null });
    expect(r.output().toString()).toContain('got-hup');
  });

  it('keeps one control client for ten sessions, and lists them', async () => {
    const runs = await Promise.all(
      Array.from({ length: 10 }, () => openTmuxPty(box, spec('cat', []), options)),
    );
    expect(controlClients()).toHaveLength(1);
    const listed = await listTmuxSessions(box, options);
    for (const pty of runs) expect(listed.map((s) => s.sessionId)).toContain(pty.pane.sessionId);
    for (const pty of runs) {
      const r = run(pty);
      pty.write('\x04');
      await r.exited;
    }
  });

  it('reattaches every session when the control client is killed: screen restored, then live', async () => {
    const r = run(await openTmuxPty(box, spec('cat', []), options));
    for (let i = 0; i < 30; i++) r.pty.write(`line ${i}\r`);
    await until(() => r.output().toString().includes('line 29\r\n'), 'the lines');
    const gaps: string[] = [];
    const states: string[] = [];
    r.pty.onGap((reason) => gaps.push(reason));
    r.pty.onStateChange((state) => states.push(state));
    const [pid] = controlClients();
    process.kill(pid!, 'SIGKILL');
    await until(() => states.includes('disconnected'), 'disconnected');
    await until(() => states.includes('live'), 'reattached');
    expect(gaps).toHaveLength(1);
    expect(r.pty.restoredFrom).toBe('capture');
    const restored = r.output().toString();
    const afterClear = restored.slice(restored.lastIndexOf('\x1b[H\x1b[2J'));
    expect(afterClear).toContain('line 29');
    const mark = r.output().length;
    r.pty.write('after reattach\r');
    await until(() => r.output().subarray(mark).toString().includes('after reattach\r\n'), 'live output');
    expect(controlClients()).toHaveLength(1);
    r.pty.write('\x04');
    expect(await r.exited).toEqual({ exitCode: 0, signal: null });
  });

  it('adopts a session after a Tower restart, and one that ended meanwhile with its status', async () => {
    const first = run(await sh('echo before-restart; read x; echo after-$x; read y'));
    const ended = run(await sh('echo short-lived; read x; exit 4'));
    await until(() => first.output().toString().includes('before-restart'), 'first output');
    await until(() => ended.output().toString().includes('short-lived'), 'second output');
    // A restart: this host lets go, a new Tower comes with a new box object and host.
    TmuxHost.for(box, options).close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const box2 = new LocalBox('tmux-test-box');
    const host2 = { ...options };
    try {
      execFileSync('tmux', ['-L', socket, 'send-keys', '-t', `tower-${ended.pty.pane.sessionId}`, 'Enter']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const adopted = await reattachTmux(box2, first.pty.pane.sessionId, 80, 24, host2);
      const gaps: string[] = [];
      adopted.onGap((reason) => gaps.push(reason));
      const again = run(adopted);
      expect(again.pty.restoredFrom).toBe('capture');
      expect(gaps).toEqual([expect.stringMatching(/unknown/)]);
      await until(() => again.output().toString().includes('before-restart'), 'restored screen');
      again.pty.write('yes\r');
      await until(() => again.output().toString().includes('after-yes'), 'live after adoption');
      again.pty.write('\r');
      expect(await again.exited).toEqual({ exitCode: 0, signal: null });
      const gone = run(await reattachTmux(box2, ended.pty.pane.sessionId, 80, 24, host2));
      expect(await gone.exited).toEqual({ exitCode: 4, signal: null });
      expect(gone.output().toString()).toContain('short-lived');
    } finally {
      TmuxHost.for(box2, host2).close();
    }
  });
});
