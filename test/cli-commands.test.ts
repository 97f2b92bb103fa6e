/**
 * The `tower` CLI's ergonomics against the real daemon: sessions addressed by id, name or unique id
 * prefix; `tower rename`; `--version`; bad flags; `tower hook --help`; `rm` of a running session; the
 * detach key of `attach` (on a real PTY rendered by a headless xterm).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import type { SessionInfo } from '../dist/protocol/index.js';
import { AttachedTerminal, describeResult, killLeftovers, runCli, runCliOk } from './support/cli.js';
import { ROOT, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  process.env.SHELL = '/bin/bash';
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
});

const cli = (...args: string[]) => runCli(daemon.stateDir, args);

const ok = (...args: string[]) => runCliOk(daemon.stateDir, args);

/** A session with a chosen id (the socket lets a client pick one, as agor-pty clients do). */
async function sleeper(id: string, name?: string): Promise<string> {
  await client.createSession({ id, name, shell: '/bin/sh', args: ['-c', `echo I-am-${id}; sleep 120`] });
  await waitFor(async () => (await client.screen(id)).text.includes(`I-am-${id}`), `${id} to print`);
  return id;
}

const screenOf = async (ref: string) => (await ok('screen', ref)).stdout;
const info = async (id: string) => (await client.list()).find((s) => s.id === id) as SessionInfo;

describe('session references', () => {
  beforeAll(async () => {
    await sleeper('ref0a1b');
    await sleeper('ref0a2c');
    await sleeper('ref9zz9', 'ref0a'); // its name is also a prefix of the ids above
    await sleeper('twin-1', 'twin');
    await sleeper('twin-2', 'twin');
    await sleeper('named-by-id', 'ref0a2c'); // its name is another session's id
  });

  it('an exact id, then an exact name, then a unique id prefix', async () => {
    expect(await screenOf('ref0a1b')).toContain('I-am-ref0a1b');
    expect(await screenOf('ref0a2')).toContain('I-am-ref0a2c');
    expect(await screenOf('ref9')).toContain('I-am-ref9zz9');
    // A name wins over an id prefix; an id wins over a name.
    expect(await screenOf('ref0a')).toContain('I-am-ref9zz9');
    expect(await screenOf('ref0a2c')).toContain('I-am-ref0a2c');
  });

  it('an ambiguous reference fails and lists the candidates', async () => {
    const prefix = await cli('screen', 'ref0');
    expect(prefix.code, describeResult(prefix)).toBe(1);
    expect(prefix.stderr).toMatch(/ambiguous/);
    for (const id of ['ref0a1b', 'ref0a2c', 'ref9zz9']) {
      if (id.startsWith('ref0')) expect(prefix.stderr).toContain(id);
    }
    const name = await cli('kill', 'twin');
    expect(name.code, describeResult(name)).toBe(1);
    expect(name.stderr).toMatch(/ambiguous/);
    expect(name.stderr).toContain('twin-1');
    expect(name.stderr).toContain('twin-2');
    expect((await info('twin-1')).status).toBe('running');
    expect((await info('twin-2')).status).toBe('running');
  });

  it('every session command takes a reference: send, logs, kill, rm, attach', async () => {
    const id = await sleeper('byname-7f3e', 'worker-one');
    expect((await ok('logs', 'worker-one')).stdout).toContain('I-am-byname-7f3e');
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', 'worker-one']);
    await attached.waitForScreen((rows) => rows.includes('I-am-byname-7f3e'), 'the attached screen');
    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    expect(attached.output).toContain(`[detached from ${id}`);
    await ok('send', 'byname-7f', 'x');
    await ok('kill', 'worker-one');
    expect((await info(id)).status).toBe('exited');
    await ok('rm', 'byname');
    expect(await info(id)).toBeUndefined();
  });
});

describe('tower spawn --cwd with ~', () => {
  it("leaves ~ and ~/dir to the daemon, which names its user's home", async () => {
    const home = (
      await ok('spawn', '--cwd', '~', '--', '/bin/sh', '-c', 'echo "home=$HOME"; sleep 30')
    ).stdout.trim();
    await waitFor(async () => (await client.screen(home)).text.includes('home='), 'the home line');
    const daemonHome = (await client.screen(home)).text.match(/home=(\S+)/)![1]!;
    expect((await info(home)).cwd).toBe(daemonHome);
    const relative = (await ok('spawn', '--cwd', '~/', '--', '/bin/sh', '-c', 'sleep 30')).stdout.trim();
    expect((await info(relative)).cwd).toBe(daemonHome);
  });
});

describe('tower rename', () => {
  it('renames a session: ls shows it, watchers hear it, a restart keeps it', async () => {
    const id = await sleeper('rename-me-1', 'before');
    const events: { event: string; session: SessionInfo }[] = [];
    const watcher = await daemon.connect();
    watcher.on('session_event', (message) => events.push(message));
    await watcher.watch();
    const result = await ok('rename', 'before', 'after');
    expect(result.stdout).toBe('');
    expect((await info(id)).name).toBe('after');
    await waitFor(() => events.find((e) => e.event === 'renamed' && e.session.id === id), 'renamed event');
    expect(events.find((e) => e.event === 'renamed')!.session.name).toBe('after');
    watcher.end();
    // The new name addresses it.
    expect(await screenOf('after')).toContain('I-am-rename-me-1');

    client.end();
    await daemon.stop();
    await daemon.restart();
    client = await daemon.connect();
    expect((await info(id)).name).toBe('after');
  });

  it('refuses a name that is too long', async () => {
    await sleeper('rename-me-2');
    const result = await cli('rename', 'rename-me-2', 'x'.repeat(300));
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stderr).toMatch(/name/);
    expect((await info('rename-me-2')).name).toBe(null);
  });
});

describe('version, bad flags and help', () => {
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

  it('--version prints the package version', async () => {
    expect((await ok('--version')).stdout).toBe(`${version}\n`);
  });

  it('a bad flag exits 2 with one line and a hint naming the command help, not the whole help', async () => {
    for (const [args, line, hint] of [
      [['ls', '--bogus'], "tower: error: unknown option '--bogus'", 'tower ls --help'],
      [
        ['spawn', '--cols', 'many'],
        "tower: error: option '--cols <n>' argument 'many' is invalid",
        'tower spawn --help',
      ],
      [['attach'], "tower: error: missing required argument 'session'", 'tower attach --help'],
      [['frobnicate'], "tower: error: unknown command 'frobnicate'", 'tower --help'],
    ] as const) {
      const result = await cli(...args);
      const what = `tower ${args.join(' ')}: ${describeResult(result)}`;
      expect(result.code, what).toBe(2);
      expect(result.stdout, what).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines.length, what).toBe(2);
      expect(lines[0], what).toContain(line);
      expect(lines[1], what).toContain(hint);
      expect(result.stderr, what).not.toContain('Options:');
    }
  });

  it('tower hook --help explains the command instead of running a hook', async () => {
    const result = await ok('hook', '--help');
    expect(result.stdout).toContain('Usage: tower hook');
  });
});

describe('tower rm', () => {
  it('of a running session says to end it with tower kill, and leaves it running', async () => {
    const id = await sleeper('still-running-1');
    const result = await cli('rm', id);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stderr).toContain(`tower kill ${id}`);
    expect(result.stderr.trimEnd().split('\n').length).toBe(1);
    expect((await info(id)).status).toBe('running');
  });
});

describe('the detach key', () => {
  /** A program that shows each control byte it reads (`cat -v`) and no signal keys. */
  async function catSession(id: string): Promise<string> {
    await client.createSession({
      id,
      shell: '/bin/sh',
      args: ['-c', 'stty -isig -echo; echo cat-ready; cat -v'],
    });
    await waitFor(async () => (await client.screen(id)).text.includes('cat-ready'), 'cat to start');
    return id;
  }

  it('--detach-key picks another key; the default one then reaches the program; twice sends it once', async () => {
    const id = await catSession('detach-key-1');
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id, '--detach-key', 'ctrl-]']);
    await attached.waitForScreen((rows) => rows.includes('cat-ready'), 'the attached screen');
    attached.type('A\x1cB\r');
    await attached.waitForScreen((rows) => rows.includes('A^\\B'), 'Ctrl-\\ passed to the program');
    attached.type('C\x1d\x1dD\r');
    await attached.waitForScreen((rows) => rows.includes('C^]D'), 'Ctrl-] twice passed once');
    attached.type('\x1d');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    expect(attached.output).toContain(`[detached from ${id}; it keeps running]`);
    expect((await info(id)).status).toBe('running');
  });

  it('TOWER_DETACH_KEY sets the default; a bad key is refused', async () => {
    const id = await catSession('detach-key-2');
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id], {
      env: { TOWER_DETACH_KEY: 'ctrl-g' },
    });
    await attached.waitForScreen((rows) => rows.includes('cat-ready'), 'the attached screen');
    attached.type('E\x1cF\r');
    await attached.waitForScreen((rows) => rows.includes('E^\\F'), 'Ctrl-\\ passed to the program');
    attached.type('\x07');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    expect(attached.output).toContain('[detached from');

    const bad = await cli('attach', id, '--detach-key', 'shift-q');
    expect(bad.code, describeResult(bad)).toBe(2);
    expect(bad.stderr).toMatch(/ctrl-/);
  });
});
