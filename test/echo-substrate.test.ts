/**
 * The echo substrate, a stand-in for tests: its terminal keeps the PtyProcess contract with nothing
 * spawned (bytes back in order, held until listened to, bounded input, pause, exit after the last
 * byte), and a real Session over it journals, models and streams every byte at exact offsets.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Session } from '../dist/sessions/session.js';
import type { OutputSink } from '../dist/sessions/subscription.js';
import { echoSubstrate } from '../dist/substrates/echo/index.js';
import type { PtyExit, PtyProcess } from '../dist/terminal/pty.js';
import { waitFor } from './support/daemon.js';
import { ECHO, echoSessions } from './support/echo.js';

const MIB = 1024 * 1024;
const echo = echoSubstrate({ name: ECHO });
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

async function open(args: string[] = []): Promise<PtyProcess> {
  return echo.openPty({ command: 'stand-in', args, cwd: '/', env: {}, cols: 80, rows: 24 });
}

/** Everything a terminal reports, in the order it reported it. */
function record(pty: PtyProcess) {
  const events: Array<string | PtyExit> = [];
  pty.onData((chunk) => events.push(chunk.toString('latin1')));
  pty.onExit((exit) => events.push(exit));
  return { events, text: () => events.filter((event) => typeof event === 'string').join('') };
}

describe('echo terminal', () => {
  it('prints its banner, then what is written, byte for byte, on a later turn', async () => {
    const pty = await open(['--echo-banner=hello\r\n', '--model', 'ignored']);
    const seen = record(pty);
    pty.write('abc');
    pty.write(Buffer.from([0, 0xff, 0x1b]));
    expect(seen.events).toEqual([]);
    await nextTurn();
    expect(Buffer.from(seen.text(), 'latin1')).toEqual(Buffer.from('hello\r\nabc\x00\xff\x1b', 'latin1'));
    expect(pty.pid).toBe(0);
    expect(pty.foregroundProcess()).toBe('stand-in');
  });

  it('holds what it printed until a listener is set', async () => {
    const pty = await open(['--echo-banner=early ']);
    pty.write('typed before anyone listened');
    await nextTurn();
    const seen = record(pty);
    await nextTurn();
    expect(seen.text()).toBe('early typed before anyone listened');
  });

  it('ends on its exit byte, reporting the exit after the last byte; nothing reaches it after', async () => {
    const pty = await open(['--echo-exit-on=\x04', '--echo-exit-code=3']);
    const seen = record(pty);
    pty.write('last words\x04never read');
    await nextTurn();
    expect(seen.events).toEqual(['last words', { exitCode: 3, signal: null }]);
    expect(() => pty.write('x')).toThrow(expect.objectContaining({ code: 'session_not_running' }));
    expect(() => pty.resize(100, 30)).toThrow(expect.objectContaining({ code: 'session_not_running' }));
    await nextTurn();
    expect(seen.events).toHaveLength(2);
  });

  it('paused, reads and prints nothing: input waits up to its bound, then input_full; resumed, all of it comes', async () => {
    const pty = await open();
    const seen = record(pty);
    pty.pause();
    pty.write(Buffer.alloc(MIB - 1, 'a'));
    pty.write('b');
    expect(() => pty.write('c')).toThrow(expect.objectContaining({ code: 'input_full' }));
    // An answer to a terminal query is dropped behind waiting input, never refused with an error.
    pty.reply('\x1b[?1;2c');
    await nextTurn();
    expect(seen.events).toEqual([]);
    pty.resume();
    await nextTurn();
    expect(seen.text()).toBe(`${'a'.repeat(MIB - 1)}b`);
    pty.write('c');
    await nextTurn();
    expect(seen.text().endsWith('bc')).toBe(true);
  });

  it('--echo-not-reading never reads: typed input is bounded', async () => {
    const pty = await open(['--echo-not-reading']);
    const seen = record(pty);
    pty.write(Buffer.alloc(MIB, 'x'));
    await nextTurn();
    expect(() => pty.write('y')).toThrow(expect.objectContaining({ code: 'input_full' }));
    expect(seen.events).toEqual([]);
  });

  it('is killed by a signal, after what it printed (paused or not); the signal is its exit', async () => {
    const pty = await open(['--echo-banner=printed before the hangup']);
    pty.pause();
    pty.kill();
    const seen = record(pty);
    await nextTurn();
    expect(seen.events).toEqual(['printed before the hangup', { exitCode: 0, signal: 1 }]);
    const killed = await open();
    const told = record(killed);
    killed.kill('SIGKILL');
    await nextTurn();
    expect(told.events).toEqual([{ exitCode: 0, signal: 9 }]);
  });

  it('refuses an echo option it does not know, naming the ones it does', async () => {
    for (const arg of [
      '--echo-banr=x',
      '--echo-exit-on=ab',
      '--echo-exit-code=256',
      '--echo-not-reading=1',
    ]) {
      await expect(open([arg])).rejects.toMatchObject({ code: 'bad_message', message: /--echo-banner=TEXT/ });
    }
  });
});

describe('echo commands and probe', () => {
  it('exec prints its argv, then its input; bounded like any exec', async () => {
    const done = await echo.exec({ argv: ['git', 'status', '--short'], input: 'typed' });
    expect(done).toMatchObject({ exit_code: 0, signal: null, truncated: false, timed_out: false });
    expect(done.stdout.toString()).toBe('git status --short\ntyped');
    expect(done.stderr.length).toBe(0);
    const cut = await echo.exec({ argv: ['x'.repeat(100)], maxOutputBytes: 10 });
    expect(cut).toMatchObject({ truncated: true });
    expect(cut.stdout.toString()).toBe('x'.repeat(10));
    await expect(echo.exec({ argv: [] })).rejects.toMatchObject({ code: 'bad_message' });
  });

  it('probe: every program is there, the variables given to it are set, no file exists', async () => {
    const found = await echo.probe({
      cwd: '/',
      env: { HOME: '/home/someone', GIVEN: 'yes' },
      programs: ['claude', '/usr/bin/codex'],
      variables: ['GIVEN', 'NOT_GIVEN'],
      files: ['~/.claude/.credentials.json'],
    });
    expect(found).toEqual({
      home: '/home/someone',
      programs: { claude: '/echo-substrate/bin/claude', '/usr/bin/codex': '/echo-substrate/bin/codex' },
      variables: { GIVEN: true, NOT_GIVEN: false },
      files: { '~/.claude/.credentials.json': false },
    });
  });
});

/** A subscriber that takes everything, checking each frame starts where the last one ended. */
function subscriber(session: Session, from = 0) {
  const frames: Array<{ offset: number; data: Buffer }> = [];
  let closed: { exit: PtyExit | null; bytesBefore: number } | null = null;
  const bytes = () => Buffer.concat(frames.map((frame) => frame.data));
  const sink: OutputSink = {
    ready: () => true,
    output: (offset, data) => {
      frames.push({ offset, data: Buffer.from(data) });
      return true;
    },
    snapshot: () => true,
    closed: (exit) => {
      closed = { exit, bytesBefore: bytes().length };
    },
  };
  session.subscribe(sink, { fromOffset: from });
  return {
    bytes,
    contiguous: () =>
      frames.every(
        (frame, i) => i === 0 || frame.offset === frames[i - 1]!.offset + frames[i - 1]!.data.length,
      ),
    firstOffset: () => frames[0]?.offset,
    closed: () => closed,
  };
}

describe('a Session on the echo substrate', () => {
  const { manager, cleanup } = echoSessions();
  afterAll(cleanup);

  it('journals, models and streams every byte written, at exact offsets; exits after the last one', async () => {
    const session = await manager.create({
      substrate: ECHO,
      command: 'stand-in',
      args: ['--echo-banner=ready> ', '--echo-exit-on=\x04', '--echo-exit-code=7'],
    });
    expect(session.info()).toMatchObject({ substrate: ECHO, pid: 0, status: 'running' });
    const live = subscriber(session);
    await waitFor(() => session.info().last_offset === 7, 'the banner');
    const typed = ['one ', Buffer.from([0xe2, 0x82]), Buffer.from([0xac]), ' two\r\n'];
    for (const chunk of typed) session.write(chunk);
    await waitFor(async () => (await session.text()).text.includes('ready> one € two'), 'the screen');
    typed.push('x'.repeat(20_000));
    session.write(typed.at(-1)!);
    const expected = Buffer.concat([Buffer.from('ready> '), ...typed.map((chunk) => Buffer.from(chunk))]);
    await waitFor(() => live.bytes().length === expected.length, 'every byte back');
    expect(live.bytes()).toEqual(expected);
    expect(live.contiguous()).toBe(true);
    expect(session.info().last_offset).toBe(expected.length);

    const late = subscriber(session, 7);
    await waitFor(() => late.bytes().length === expected.length - 7, 'a late subscriber catching up');
    expect(late.firstOffset()).toBe(7);
    expect(late.bytes()).toEqual(expected.subarray(7));

    const exit = new Promise<PtyExit>((resolve) => session.once('exit', resolve));
    session.write('the end\x04');
    expect(await exit).toEqual({ exitCode: 7, signal: null });
    const total = expected.length + 'the end'.length;
    expect(session.journal.end).toBe(total);
    expect(live.closed()).toEqual({ exit: { exitCode: 7, signal: null }, bytesBefore: total });
    expect(session.info()).toMatchObject({ status: 'exited', exit_code: 7, last_offset: total });
    expect(() => session.write('more')).toThrow(expect.objectContaining({ code: 'session_not_running' }));
  });

  it('bounds input to a program that does not read it, and is hung up by close', async () => {
    const session = await manager.create({
      substrate: ECHO,
      command: 'stand-in',
      args: ['--echo-not-reading'],
    });
    for (let i = 0; i < 4; i++) session.write(Buffer.alloc(MIB / 4, 'k'));
    expect(() => session.write('one more')).toThrow(expect.objectContaining({ code: 'input_full' }));
    await manager.close(session.id);
    expect(session.info()).toMatchObject({ status: 'exited', exit_signal: 1, last_offset: 0 });
  });

  it('an echo option it does not know fails the create, and leaves no session', async () => {
    const before = manager.list().length;
    await expect(
      manager.create({ substrate: ECHO, command: 'stand-in', args: ['--echo-bannner=typo'] }),
    ).rejects.toMatchObject({ code: 'bad_message' });
    expect(manager.list()).toHaveLength(before);
  });
});
