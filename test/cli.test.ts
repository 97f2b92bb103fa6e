/**
 * The `tower` CLI end to end: every command is run as `node bin/tower.js --state-dir DIR ...`
 * against the real daemon; `tower attach` runs inside a real PTY rendered by a headless xterm.
 * Runs against the compiled output (`npx tsc -p .` first).
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../dist/client/client.js';
import type { SessionInfo } from '../dist/protocol/index.js';
import {
  AttachedTerminal,
  type CliResult,
  describeResult,
  killLeftovers,
  runCli,
  runCliOk,
  startCli,
} from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

const SESSION_FIELDS = [
  'agent',
  'args',
  'cols',
  'created_at',
  'cwd',
  'exit_code',
  'exit_signal',
  'exited_at',
  'first_offset',
  'id',
  'journal',
  'last_offset',
  'link',
  'name',
  'pid',
  'queued_prompts',
  'resumed_from',
  'rows',
  'runtime',
  'shell',
  'status',
  'substrate',
];

/** A shell whose startup does not depend on the machine's rc files. */
const BASH = ['--', '/bin/bash', '--norc', '--noprofile'];
/** Typed into a shell before attaching: its output on the attached screen shows attach works. */
const READY_COMMAND = 'echo ready-$((1+2))';
const READY_LINE = 'ready-3';

let daemon: TestDaemon;
let client: TowerClient;
const scratchDirs: string[] = [];

function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

beforeAll(async () => {
  // The daemon runs "the user's shell" ($SHELL) for a spawn without a command: make it fixed.
  process.env.SHELL = '/bin/bash';
  daemon = await startTestDaemon();
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(daemon.stateDir, args);

/** Run a command that must succeed. */
const ok = (...args: string[]): Promise<CliResult> => runCliOk(daemon.stateDir, args);

async function spawnSession(...args: string[]): Promise<string> {
  const result = await ok('spawn', ...args);
  const id = result.stdout.trim();
  expect(id).toMatch(/^[A-Za-z0-9._-]+$/);
  expect(result.stdout).toBe(`${id}\n`);
  return id;
}

async function lsJson(): Promise<SessionInfo[]> {
  return JSON.parse((await ok('ls', '--json')).stdout) as SessionInfo[];
}

async function sessionInfo(id: string): Promise<SessionInfo | undefined> {
  return (await lsJson()).find((s) => s.id === id);
}

async function screenLines(id: string): Promise<string[]> {
  return (await ok('screen', id)).stdout.split('\n').map((line) => line.replace(/ +$/, ''));
}

/** Poll `tower screen ID` until a line satisfies `match`. */
async function waitForScreenLine(
  id: string,
  match: (line: string) => boolean,
  what: string,
): Promise<string[]> {
  let last: string[] = [];
  try {
    return await waitFor(async () => {
      last = await screenLines(id);
      return last.some(match) ? last : undefined;
    }, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}; screen was:\n${last.join('\n')}`);
  }
}

const waitForLine = (id: string, text: string) =>
  waitForScreenLine(id, (line) => line === text, `line "${text}"`);

async function waitForStatus(id: string, status: SessionInfo['status']): Promise<SessionInfo> {
  return waitFor(async () => {
    const info = await sessionInfo(id);
    return info?.status === status ? info : undefined;
  }, `session ${id} to be ${status}`);
}

describe('tower spawn', () => {
  it('prints the id of a session running the command after --, with --name and --cwd', async () => {
    const cwd = scratchDir('tower-cli-cwd-');
    const id = await spawnSession(
      '--name',
      'greeter',
      '--cwd',
      cwd,
      '--',
      '/bin/sh',
      '-c',
      'echo hi; sleep 30',
    );
    const info = await sessionInfo(id);
    expect(info).toMatchObject({
      id,
      name: 'greeter',
      shell: '/bin/sh',
      args: ['-c', 'echo hi; sleep 30'],
      cwd,
      status: 'running',
    });
    expect(info!.pid).toBeGreaterThan(0);
    await waitForLine(id, 'hi');
  });

  it('runs $SHELL when no command is given', async () => {
    const id = await spawnSession();
    const info = await sessionInfo(id);
    expect(info).toMatchObject({ shell: '/bin/bash', args: [], status: 'running' });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    await ok('send', id, 'echo "shell-$((1+1))-major-${BASH_VERSINFO[0]}"', '--enter');
    await waitForScreenLine(id, (line) => /^shell-2-major-\d+$/.test(line), 'bash to answer');
  });

  it('uses the size from --cols/--rows (80x24 when not on a terminal)', async () => {
    const sized = await spawnSession('--cols', '120', '--rows', '40', '--', '/bin/sh', '-c', 'sleep 30');
    expect(await sessionInfo(sized)).toMatchObject({ cols: 120, rows: 40 });
    const plain = await spawnSession('--', '/bin/sh', '-c', 'sleep 30');
    expect(await sessionInfo(plain)).toMatchObject({ cols: 80, rows: 24 });
  });

  it("defaults the session's cwd to the CLI's working directory", async () => {
    const cwd = scratchDir('tower-cli-here-');
    const result = await runCli(daemon.stateDir, ['spawn', '--', '/bin/sh', '-c', 'sleep 30'], { cwd });
    expect(result.code, describeResult(result)).toBe(0);
    expect(await sessionInfo(result.stdout.trim())).toMatchObject({ cwd });
  });

  it("resolves a relative --cwd against the CLI's working directory, not the daemon's", async () => {
    const base = scratchDir('tower-cli-rel-');
    mkdirSync(join(base, 'sub'));
    const result = await runCli(
      daemon.stateDir,
      ['spawn', '--cwd', 'sub', '--', '/bin/sh', '-c', 'sleep 30'],
      {
        cwd: base,
      },
    );
    expect(result.code, describeResult(result)).toBe(0);
    expect(await sessionInfo(result.stdout.trim())).toMatchObject({ cwd: join(base, 'sub') });
  });

  it('fails clearly for a missing command or cwd', async () => {
    const command = await cli('spawn', '--', '/nonexistent/program');
    expect(command.code).toBe(1);
    expect(command.stderr).toMatch(/command not found.*\/nonexistent\/program/);
    const cwd = await cli('spawn', '--cwd', '/nonexistent/dir', '--', '/bin/sh');
    expect(cwd.code).toBe(1);
    expect(cwd.stderr).toContain('cwd does not exist');
    expect(cwd.stdout).toBe('');
  });
});

describe('tower ls', () => {
  it('prints a table with id, name and status', async () => {
    const id = await spawnSession('--name', 'table-row', '--', '/bin/sh', '-c', 'sleep 30');
    const { stdout } = await ok('ls');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+RUNTIME\s+STATUS\s+AGENT\s+PID\s+COMMAND\s+CWD\s+BYTES$/);
    const row = lines.find((line) => line.startsWith(`${id} `));
    expect(row, stdout).toBeDefined();
    expect(row!.split(/\s{2,}/).slice(0, 4)).toEqual([id, 'table-row', '-', 'running']);
    expect(row).toContain('/bin/sh -c sleep 30');
  });

  it('--json prints every session with the snake_case protocol fields', async () => {
    const id = await spawnSession('--name', 'json-row', '--', '/bin/sh', '-c', 'printf abc; sleep 30');
    await waitFor(async () => ((await sessionInfo(id))?.last_offset ?? 0) >= 3, 'output to be journaled');
    const sessions = await lsJson();
    expect(Array.isArray(sessions)).toBe(true);
    for (const session of sessions) expect(Object.keys(session).sort()).toEqual(SESSION_FIELDS);
    const info = sessions.find((s) => s.id === id)!;
    expect(info).toMatchObject({
      id,
      name: 'json-row',
      shell: '/bin/sh',
      args: ['-c', 'printf abc; sleep 30'],
      cwd: expect.any(String),
      cols: 80,
      rows: 24,
      pid: expect.any(Number),
      status: 'running',
      exit_code: null,
      exit_signal: null,
      exited_at: null,
      first_offset: 0,
      last_offset: 3,
      substrate: 'local',
    });
    expect(Number.isNaN(Date.parse(info.created_at))).toBe(false);
  });
});

describe('tower send and screen', () => {
  it('send --enter runs the text; screen shows the output', async () => {
    const id = await spawnSession(...BASH);
    await ok('send', id, 'echo sent-$((40+2))', '--enter');
    await waitForLine(id, 'sent-42');
  });

  it('send without --enter only types the text', async () => {
    const id = await spawnSession(...BASH);
    await ok('send', id, 'echo pending-$((3*3))');
    const lines = await waitForScreenLine(
      id,
      (line) => line.endsWith('echo pending-$((3*3))'),
      'the typed text',
    );
    expect(lines).not.toContain('pending-9');
    // Enter alone now runs what was typed.
    await ok('send', id, '', '--enter');
    await waitForLine(id, 'pending-9');
  });
});

describe('tower logs', () => {
  it('prints the raw journal bytes, escape sequences and non-UTF-8 bytes included', async () => {
    // Raw mode: no output processing, so the terminal carries exactly what printf wrote.
    const script = "stty raw -echo; printf '\\033[1;31mRED\\033[0m\\ttab\\377\\376 end\\n'; sleep 30";
    const expected = Buffer.concat([
      Buffer.from('\x1b[1;31mRED\x1b[0m\ttab'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(' end\n'),
    ]);
    const id = await spawnSession('--', '/bin/sh', '-c', script);
    await waitFor(async () => ((await sessionInfo(id))?.last_offset ?? 0) >= expected.length, 'output');
    const result = await ok('logs', id);
    expect(result.stdoutBytes).toEqual(expected);
    expect(result.stdoutBytes).toEqual(await readAllOutput(client, id));
  });

  it('--from N prints exactly the bytes from offset N', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'seq 1 300');
    await waitForStatus(id, 'exited');
    const full = (await ok('logs', id)).stdoutBytes;
    expect(full).toEqual(await readAllOutput(client, id));
    expect(full.toString()).toContain('1\r\n2\r\n');
    for (const from of [0, 1, 7, Math.floor(full.length / 2), full.length - 1, full.length]) {
      const part = await ok('logs', id, '--from', String(from));
      expect(part.stdoutBytes, `--from ${from}`).toEqual(full.subarray(from));
    }
  });

  it('prints output larger than one read chunk in full', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'seq 1 100000');
    const info = await waitForStatus(id, 'exited');
    const full = (await ok('logs', id)).stdoutBytes;
    expect(full.length).toBe(info.last_offset);
    expect(full.length).toBeGreaterThan(512 * 1024);
    expect(full).toEqual(await readAllOutput(client, id));
    expect((await ok('logs', id, '--from', '300000')).stdoutBytes).toEqual(full.subarray(300000));
  });

  it('rejects an offset that is not held or not a number', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'printf 12345');
    await waitForStatus(id, 'exited');
    const beyond = await cli('logs', id, '--from', '6');
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toContain('not retained');
    const garbage = await cli('logs', id, '--from', 'abc');
    expect(garbage.code).not.toBe(0);
    expect(garbage.stderr).toContain('whole number');
  });

  it('--follow streams new output and ends when the session exits', async () => {
    const id = await spawnSession(...BASH);
    const follow = startCli(daemon.stateDir, ['logs', id, '--follow']);
    await ok('send', id, 'echo follow-$((6*7))', '--enter');
    await waitFor(() => follow.stdout().includes('follow-42\r\n'), 'followed output');
    expect(follow.child.exitCode).toBe(null);
    await ok('send', id, 'echo bye-$((1+1)); exit 3', '--enter');
    const result = await follow.done;
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain('bye-2\r\n');
    expect((await sessionInfo(id))?.status).toBe('exited');
    // What was followed is the whole journal, byte for byte.
    expect(result.stdoutBytes).toEqual((await ok('logs', id)).stdoutBytes);
  });

  it('--follow also ends when the session is killed', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'echo waiting; sleep 60');
    const follow = startCli(daemon.stateDir, ['logs', id, '-f']);
    await waitFor(() => follow.stdout().includes('waiting'), 'followed output');
    await ok('kill', id);
    const result = await follow.done;
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toBe('waiting\r\n');
  });

  it('--follow --from N on an exited session prints from N and returns', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'echo one; echo two');
    await waitForStatus(id, 'exited');
    const full = (await ok('logs', id)).stdoutBytes;
    const result = await ok('logs', id, '--follow', '--from', '5');
    expect(result.stdoutBytes).toEqual(full.subarray(5));
    expect(result.stdout).toBe('two\r\n');
  });
});

describe('tower kill and rm', () => {
  it('kill ends the session; ls shows it exited', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'sleep 60');
    await ok('kill', id);
    // kill returns once the program has exited.
    const info = await sessionInfo(id);
    expect(info?.status).toBe('exited');
    expect(info?.exited_at).not.toBe(null);
    expect(info?.exit_signal).toBe(1); // SIGHUP
    const row = (await ok('ls')).stdout.split('\n').find((line) => line.startsWith(`${id} `));
    expect(row).toMatch(/exited\(sig 1\)/);
  });

  it('rm removes an exited session and its output', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'echo gone');
    await waitForStatus(id, 'exited');
    expect(existsSync(join(daemon.stateDir, 'sessions', id))).toBe(true);
    const result = await ok('rm', id);
    expect(result.stdout).toBe('');
    expect(await sessionInfo(id)).toBeUndefined();
    expect(existsSync(join(daemon.stateDir, 'sessions', id))).toBe(false);
    const again = await cli('logs', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('unknown session');
  });

  it('rm takes several ids', async () => {
    const a = await spawnSession('--', '/bin/sh', '-c', 'true');
    const b = await spawnSession('--', '/bin/sh', '-c', 'true');
    await waitForStatus(a, 'exited');
    await waitForStatus(b, 'exited');
    await ok('rm', a, b);
    const ids = (await lsJson()).map((s) => s.id);
    expect(ids).not.toContain(a);
    expect(ids).not.toContain(b);
  });

  it('rm of a running session fails with a clear message and leaves it running', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'sleep 60');
    const result = await cli('rm', id);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^tower: session ${id} is running; end it first with: tower kill ${id}`),
    );
    expect((await sessionInfo(id))?.status).toBe('running');
  });
});

describe('errors', () => {
  const daemonCommands = [
    ['ls'],
    ['ls', '--json'],
    ['spawn'],
    ['spawn', '--', '/bin/true'],
    ['attach', 'abc'],
    ['send', 'abc', 'hello'],
    ['send', 'abc', 'hello', '--enter'],
    ['screen', 'abc'],
    ['logs', 'abc'],
    ['logs', 'abc', '--follow'],
    ['kill', 'abc'],
    ['rm', 'abc'],
  ];

  it('every daemon command exits 3 and says how to start the daemon when none is running', async () => {
    const empty = scratchDir('tower-cli-empty-');
    const missing = join(empty, 'not-created');
    const results = await Promise.all(
      daemonCommands.flatMap((args) =>
        [runCli(empty, args), runCli(missing, args)].map((p) => p.then((r) => ({ args, r }))),
      ),
    );
    for (const { args, r } of results) {
      const what = `tower ${args.join(' ')}: ${describeResult(r)}`;
      expect(r.code, what).toBe(3);
      expect(r.stderr, what).toMatch(/daemon is not running/);
      expect(r.stderr, what).toContain('tower serve');
      expect(r.stdout, what).toBe('');
    }
    // Asking does not create state.
    expect(readdirSync(empty)).toEqual([]);
  });

  it('an unknown session id exits 1 with "unknown session"', async () => {
    for (const args of [
      ['send', 'no-such-id', 'x'],
      ['screen', 'no-such-id'],
      ['logs', 'no-such-id'],
      ['logs', 'no-such-id', '--follow'],
      ['kill', 'no-such-id'],
      ['rm', 'no-such-id'],
      ['attach', 'no-such-id'],
    ]) {
      const result = await cli(...args);
      const what = `tower ${args.join(' ')}: ${describeResult(result)}`;
      expect(result.code, what).toBe(1);
      expect(result.stderr, what).toContain('unknown session: no-such-id');
    }
  });
});

describe('tower token', () => {
  it('prints the 64-hex-digit token from the token file, the same each time', async () => {
    const file = join(daemon.stateDir, 'token');
    const { stdout } = await ok('token');
    expect(stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(stdout.trim()).toBe(readFileSync(file, 'utf8').trim());
    expect((await ok('token')).stdout).toBe(stdout);
  });

  it('--rotate replaces it: 0600, the running daemon refuses the old token and takes the new one', async () => {
    const file = join(daemon.stateDir, 'token');
    const old = (await ok('token')).stdout.trim();
    const rotated = (await ok('token', '--rotate')).stdout;
    expect(rotated).toMatch(/^[0-9a-f]{64}\n$/);
    const fresh = rotated.trim();
    expect(fresh).not.toBe(old);
    expect(readFileSync(file, 'utf8').trim()).toBe(fresh);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await ok('token')).stdout.trim()).toBe(fresh);

    await expect(TowerClient.connect({ stateDir: daemon.stateDir, token: old })).rejects.toThrow(
      /refused the token/,
    );
    const withNew = await TowerClient.connect({ stateDir: daemon.stateDir, token: fresh });
    try {
      await withNew.ping();
      expect(Array.isArray(await withNew.list())).toBe(true);
    } finally {
      withNew.end();
    }
    // The CLI reads the new file.
    await ok('ls');
  });
});

describe('tower serve', () => {
  it('keeps its state dir 0700 and its socket and token 0600', () => {
    expect(statSync(daemon.stateDir).mode & 0o777).toBe(0o700);
    const socket = statSync(join(daemon.stateDir, 'tower.sock'));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(statSync(join(daemon.stateDir, 'token')).mode & 0o777).toBe(0o600);
  });

  it('refuses to start a second daemon on the same state dir; the first keeps working', async () => {
    const second = await runCli(daemon.stateDir, ['serve'], { timeoutMs: 15_000 });
    expect(second.signal, 'the second daemon should exit by itself').toBe(null);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('another control plane is attached');
    expect(daemon.process.exitCode).toBe(null);
    await ok('ls');
    const id = await spawnSession('--', '/bin/sh', '-c', 'echo still-here; sleep 30');
    await waitForLine(id, 'still-here');
    expect(statSync(join(daemon.stateDir, 'tower.sock')).isSocket()).toBe(true);
  });

  describe('on its own state dir', () => {
    let other: TestDaemon;
    let otherDir: string;

    beforeAll(async () => {
      otherDir = scratchDir('tower-cli-serve-');
      chmodSync(otherDir, 0o755);
      other = await startTestDaemon({ stateDir: otherDir });
    });

    afterAll(async () => {
      await other?.stop();
    });

    it('tightens an existing state dir to 0700 and starts with no sessions', async () => {
      expect(statSync(otherDir).mode & 0o777).toBe(0o700);
      const result = await runCli(otherDir, ['ls']);
      expect(result.code, describeResult(result)).toBe(0);
      expect(result.stdout).toBe('no sessions\n');
      expect(JSON.parse((await runCli(otherDir, ['ls', '--json'])).stdout)).toEqual([]);
    });

    it('while the daemon is down the CLI says it is not running; after a restart its sessions are lost', async () => {
      const spawned = await runCli(otherDir, ['spawn', ...BASH]);
      const id = spawned.stdout.trim();
      expect((await runCli(otherDir, ['send', id, READY_COMMAND, '--enter'])).code).toBe(0);
      await other.crash();

      const down = await runCli(otherDir, ['ls']);
      expect(down.code).toBe(3);
      expect(down.stderr).toContain('tower serve');

      await other.restart();
      const up = await runCli(otherDir, ['ls', '--json']);
      expect(up.code, describeResult(up)).toBe(0);
      expect((JSON.parse(up.stdout) as SessionInfo[]).find((s) => s.id === id)?.status).toBe('lost');
    });
  });
});

describe('tower attach', () => {
  const attachments: AttachedTerminal[] = [];
  const attach = (id: string, size: { cols?: number; rows?: number } = {}) => {
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id], size);
    attachments.push(attached);
    return attached;
  };

  afterAll(() => {
    for (const attached of attachments) attached.kill();
  });

  it('paints the existing screen, types, resizes, and detaches with Ctrl-\\ leaving the session running', async () => {
    const id = await spawnSession(...BASH);
    await ok('send', id, 'echo before-$((10+1))', '--enter');
    await waitForLine(id, 'before-11');

    const attached = attach(id, { cols: 100, rows: 30 });
    // (1) the snapshot paints what the session already shows.
    await attached.waitForScreen((rows) => rows.includes('before-11'), 'the existing screen', 5_000);
    // (3) the session takes the attaching terminal's size.
    await waitFor(async () => {
      const info = await sessionInfo(id);
      return info?.cols === 100 && info.rows === 30;
    }, 'session resized to 100x30');

    // (2) keystrokes reach the session.
    attached.type('echo typed-$((2+3))\r');
    await attached.waitForScreen((rows) => rows.includes('typed-5'), 'typed-5');
    attached.type('stty size\r');
    await attached.waitForScreen((rows) => rows.includes('30 100'), 'stty size 30 100');

    // (4) resizing the local terminal resizes the session.
    attached.resize(90, 25);
    await waitFor(async () => {
      const info = await sessionInfo(id);
      return info?.cols === 90 && info.rows === 25;
    }, 'session resized to 90x25');
    attached.type('stty size\r');
    await attached.waitForScreen((rows) => rows.includes('25 90'), 'stty size 25 90');

    // (5) Ctrl-\ detaches; the session keeps running.
    attached.type('\x1c');
    const exit = await attached.waitForExit();
    expect(exit.exitCode, attached.output).toBe(0);
    expect(attached.output).toContain(`[detached from ${id}; it keeps running]`);
    expect((await sessionInfo(id))?.status).toBe('running');
    await ok('send', id, 'echo after-detach-$((1+6))', '--enter');
    await waitForLine(id, 'after-detach-7');
  });

  it('paints a full-screen program in the alternate screen at the right place', async () => {
    const id = await spawnSession(...BASH);
    await ok('send', id, "printf '\\033[?1049h\\033[2J\\033[5;10HTUI-MARK'; sleep 600", '--enter');
    await waitForScreenLine(id, (line) => line.includes('TUI-MARK'), 'TUI-MARK in the session');

    const attached = attach(id, { cols: 100, rows: 30 });
    const rows = await attached.waitForScreen(
      (r) => r[4]?.indexOf('TUI-MARK') === 9,
      'TUI-MARK at row 5, col 10',
    );
    expect(attached.terminal.buffer.active.type).toBe('alternate');
    expect(rows.filter((_, i) => i !== 4).every((row) => row === '')).toBe(true);
    expect(rows[4]).toBe(`${' '.repeat(9)}TUI-MARK`);

    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    // Detaching puts the local terminal back on its normal screen.
    await attached.screen();
    expect(attached.terminal.buffer.active.type).toBe('normal');
    expect((await sessionInfo(id))?.status).toBe('running');
  });

  it('exits 0 saying the session exited when it ends while attached', async () => {
    const id = await spawnSession(...BASH);
    await ok('send', id, READY_COMMAND, '--enter');
    const attached = attach(id);
    await attached.waitForScreen((rows) => rows.includes(READY_LINE), 'the attached screen');
    attached.type('exit 7\r');
    const exit = await attached.waitForExit();
    expect(exit.exitCode, attached.output).toBe(0);
    await waitFor(
      () => attached.output.includes(`[session ${id} exited (code 7)]`),
      'the exit message',
      2_000,
    ).catch(() => {
      throw new Error(`no exit message; output: ${JSON.stringify(attached.output)}`);
    });
    expect(await sessionInfo(id)).toMatchObject({ status: 'exited', exit_code: 7 });
  });

  it("does not pass the local terminal's answers to queries on to the session", async () => {
    const id = await spawnSession(...BASH);
    await ok('send', id, READY_COMMAND, '--enter');
    const attached = attach(id);
    await attached.waitForScreen((rows) => rows.includes(READY_LINE), 'the attached screen');
    // The daemon answers the DA1 query once; a second answer (from the local terminal) would land in r2.
    attached.type(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      "printf '\\033[c'; read -rs -t 2 -d c r1; read -rs -t 1 -d c r2; echo \"R1=${#r1} R2=[${r2//$'\\033'/ESC}]\"\r",
    );
    const rows = await attached.waitForScreen(
      (r) => r.some((row) => row.startsWith('R1=')),
      'the query result',
    );
    const line = rows.find((row) => row.startsWith('R1='))!;
    expect(line).toMatch(/^R1=[1-9]\d* R2=\[\]$/);
    // The local terminal did answer, and that answer was dropped.
    expect(attached.replies.join('')).toMatch(/\x1b\[\?[\d;]*c/);
    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
  });

  it('shows an exited session and says it is not running', async () => {
    const id = await spawnSession('--', '/bin/sh', '-c', 'echo final-words; exit 4');
    await waitForStatus(id, 'exited');
    const attached = attach(id);
    await attached.waitForScreen((rows) => rows.includes('final-words'), 'the last screen');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    expect(attached.output).toContain(`[session ${id} is not running (code 4)]`);
  });
});
