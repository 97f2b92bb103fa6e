/**
 * What the `tower` CLI prints, as a user's terminal receives it: program- and client-controlled text
 * (names, cwd, arguments, prompts, runtime descriptions, errors that echo input) never reaches the
 * terminal raw; `ls` fits the terminal it runs in; human output shows local time.
 * The real daemon, the real CLI, and `ls` on a real PTY rendered by a headless xterm.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import type { PromptInfo, SessionInfo } from '../dist/protocol/index.js';
import { scriptedRuntime, waitState, writeRuntimes } from './support/agents.js';
import {
  AttachedTerminal,
  cliEnv,
  describeResult,
  killLeftovers,
  type RunningCli,
  runCli,
  runCliOk,
  startCli,
} from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

/** OSC 52 (write the clipboard), BEL, ESC [ 2 J (clear the screen), C1 CSI and NEL, DEL, CR. */
const NASTY = 'evil\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\u0085\x7f\rend';
/** Any C0 control but newline and tab (the CLI's own separators), DEL, or C1. */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

let daemon: TestDaemon;
let client: TowerClient;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'tower-cli-output-'));
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  writeRuntimes(daemon.stateDir, {
    scripted: scriptedRuntime(),
    nasty: {
      description: 'a runtime whose fix is hostile',
      command: '/bin/sh',
      credentials: { any_of: [{ env: 'TOWER_UNSET_KEY' }], fix: 'run \x1b]0;pwned\x07 login \u009b2J' },
    },
  });
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

const ok = (args: string[], env?: Record<string, string>) => runCliOk(daemon.stateDir, args, { env });

function expectNoRawControls(text: string, what: string): void {
  const found = RAW_CONTROL.exec(text);
  expect(found, `${what} printed a raw control character at ${found?.index}: ${JSON.stringify(text)}`).toBe(
    null,
  );
}

/**
 * Watchers (`tower events`) miss what happens before they are connected: start short-lived probe
 * sessions until every watcher has printed the exit of one; returns that probe's id.
 */
async function untilWatching(...watchers: RunningCli[]): Promise<string> {
  const probes: string[] = [];
  return waitFor(
    async () => {
      probes.push((await ok(['spawn', '--', '/bin/sh', '-c', 'exit 3'])).stdout.trim());
      await waitFor(() => watchers.every((w) => w.stdout().length > 0), 'a first event', 2_000).catch(
        () => {},
      );
      return probes.find((probe) => watchers.every((watcher) => watcher.stdout().includes(probe)));
    },
    'the watchers to print a probe event',
    30_000,
  );
}

const info = async (id: string) => (await client.list()).find((s) => s.id === id) as SessionInfo;

describe('control characters are escaped in everything the CLI prints', () => {
  let id: string;
  let cwd: string;

  beforeAll(async () => {
    cwd = join(scratch, 'dir\x1b[2Jx');
    mkdirSync(cwd);
    id = (
      await ok(['spawn', 'scripted', '--name', NASTY, '--cwd', cwd, '--', '--arg\x1b]0;t\x07'])
    ).stdout.trim();
    await waitState(client, id, 'idle');
  });

  it('ls shows the name, cwd and arguments with visible escapes; --json keeps them exact', async () => {
    const { stdout } = await ok(['ls']);
    expectNoRawControls(stdout, 'ls');
    const row = stdout.split('\n').find((line) => line.startsWith(`${id} `));
    expect(row, stdout).toContain('evil\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x9b31m\\x85\\x7f\\rend');
    expect(row).toContain('dir\\x1b[2Jx');
    expect(row).toContain('--arg\\x1b]0;t\\x07');

    const json = await ok(['ls', '--json']);
    expectNoRawControls(json.stdout, 'ls --json');
    const session = (JSON.parse(json.stdout) as SessionInfo[]).find((s) => s.id === id)!;
    expect(session.name).toBe(NASTY);
    expect(session.cwd).toBe(cwd);
  });

  it('events shows the session name, escaped, and the excerpt; prompts shows the text escaped', async () => {
    const human = startCli(daemon.stateDir, ['events']);
    const json = startCli(daemon.stateDir, ['events', '--json']);
    await untilWatching(human, json);

    await ok(['send', id, '--prompt', 'ask \x1b]52;c;QQ==\x07 first \u009bm']);
    await waitFor(() => human.stdout().includes('needs_input'), 'needs_input in events');
    const line = human
      .stdout()
      .split('\n')
      .find((l) => l.includes('needs_input'))!;
    expect(line).toContain(id);
    expect(line).toContain('evil\\x1b]52;c;ZXZpbA==');
    expect(line).toContain('Do you want to proceed');
    expectNoRawControls(human.stdout(), 'events');
    await waitFor(() => json.stdout().includes('needs_input'), 'needs_input in events --json');
    expectNoRawControls(json.stdout(), 'events --json');
    const event = JSON.parse(
      json
        .stdout()
        .split('\n')
        .find((l) => l.includes('needs_input'))!,
    );
    expect(event).toMatchObject({ kind: 'needs_input', session_id: id, name: NASTY });

    const prompts = await ok(['prompts', id]);
    expectNoRawControls(prompts.stdout, 'prompts');
    expect(prompts.stdout).toContain('ask \\x1b]52;c;QQ==\\x07 first \\x9bm');
    const promptsJson = await ok(['prompts', id, '--json']);
    expectNoRawControls(promptsJson.stdout, 'prompts --json');
    expect((JSON.parse(promptsJson.stdout) as PromptInfo[])[0]!.text).toBe(
      'ask \x1b]52;c;QQ==\x07 first \u009bm',
    );
    human.child.kill();
    json.child.kill();
  });

  it('agents shows what a runtime needs (from runtimes.json) escaped', async () => {
    const { stdout } = await ok(['agents']);
    expectNoRawControls(stdout, 'agents');
    expect(stdout).toContain('fix: run \\x1b]0;pwned\\x07 login \\x9b2J');
  });

  it('errors that echo input print it escaped', async () => {
    for (const args of [
      ['screen', NASTY.replace('evil', 'missing')],
      ['send', 'no\x1b]0;x\x07such', 'text'],
      ['logs', 'no\u009bsuch'],
      ['ls', '--bad\x1b[2J'],
      ['spawn', '--cwd', join(scratch, 'gone\x1b[2J')],
    ]) {
      const result = await runCli(daemon.stateDir, args);
      expect(result.code, describeResult(result)).not.toBe(0);
      expect(result.stderr.length, describeResult(result)).toBeGreaterThan(0);
      expectNoRawControls(result.stderr, `tower ${JSON.stringify(args)}`);
      expectNoRawControls(result.stdout, `tower ${JSON.stringify(args)}`);
    }
    const broadcast = await runCli(daemon.stateDir, ['broadcast', 'bad\x1b[2Jid', 'hello']);
    expect(broadcast.code).toBe(1);
    expectNoRawControls(broadcast.stdout, 'broadcast');
    expect(broadcast.stdout).toContain('bad\\x1b[2Jid');
  });
});

/** The cell column at which `text` starts on a row of the rendered screen (wide characters take two). */
function cellColumn(attached: AttachedTerminal, row: number, text: string): number {
  const line = attached.terminal.buffer.active.getLine(attached.terminal.buffer.active.viewportY + row)!;
  let joined = '';
  const columns: number[] = [];
  for (let x = 0; x < attached.terminal.cols; x++) {
    const chars = line.getCell(x)!.getChars();
    for (const _ of chars) columns.push(x);
    joined += chars;
  }
  const at = joined.indexOf(text);
  return at === -1 ? -1 : columns[at]!;
}

describe('a reader that stops early', () => {
  it('tower logs [--follow] into `head` ends quietly, exit 0, no stack trace', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'yes | head -c 3000000; sleep 60'],
    });
    await waitFor(async () => (await client.screen(sessionId)).offset >= 3_000_000, 'the output');
    for (const args of [
      ['logs', sessionId],
      ['logs', '--follow', sessionId],
    ]) {
      const reader = startCli(daemon.stateDir, args);
      await waitFor(() => reader.stdoutBytes().length > 0, 'the first bytes');
      reader.child.stdout!.destroy();
      const result = await reader.done;
      expect([result.code, result.stderr], args.join(' ')).toEqual([0, '']);
    }
    await client.close(sessionId);
  });
});

describe('tower ls on a terminal', () => {
  it('fits the width, keeps ids whole, truncates free text with … and aligns columns', async () => {
    const longName = `name-${'n'.repeat(70)}`;
    const wideName = '東京の会議室';
    const deep = join(scratch, 'a-very-long-directory-name-for-the-cwd-column', 'and-deeper-still');
    mkdirSync(deep, { recursive: true });
    const long = (
      await ok(['spawn', '--name', longName, '--cwd', deep, '--', '/bin/sh', '-c', 'sleep 60'])
    ).stdout.trim();
    const wide = (await ok(['spawn', '--name', wideName, '--', '/bin/sh', '-c', 'sleep 60'])).stdout.trim();

    const attached = new AttachedTerminal(daemon.stateDir, ['ls'], { cols: 120, rows: 40 });
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
    const lines = attached.output.split('\r\n').filter((line) => line.length > 0);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(120);
    const rows = await attached.screen();
    const header = rows.findIndex((row) => row.startsWith('ID '));
    const longRow = rows.findIndex((row) => row.startsWith(`${long} `));
    const wideRow = rows.findIndex((row) => row.startsWith(`${wide} `));
    expect(header, rows.join('\n')).toBeGreaterThanOrEqual(0);
    expect(longRow, rows.join('\n')).toBeGreaterThan(header);
    expect(wideRow, rows.join('\n')).toBeGreaterThan(header);
    expect(rows[longRow]).toContain('…');
    expect(rows[longRow]).not.toContain(longName);
    expect(rows[wideRow]).toContain(wideName);
    // Every row's STATUS starts in the header's STATUS column, counted in cells.
    const statusColumn = cellColumn(attached, header, 'STATUS');
    expect(cellColumn(attached, longRow, 'running')).toBe(statusColumn);
    expect(cellColumn(attached, wideRow, 'running')).toBe(statusColumn);

    // Not on a terminal: the whole text.
    const plain = await ok(['ls']);
    expect(plain.stdout).toContain(longName);
    expect(plain.stdout).toContain(deep);
  });
});

describe('human output is in local time', () => {
  /** An ISO time as a clock in India (UTC+05:30, no daylight saving) shows it. */
  const inKolkata = (iso: string) =>
    new Date(Date.parse(iso) + 330 * 60_000).toISOString().slice(0, 19).replace('T', ' ');
  const kolkata = cliEnv({ TZ: 'Asia/Kolkata' });

  it('prompts and events show local times; --json keeps ISO', async () => {
    const human = startCli(daemon.stateDir, ['events'], { env: kolkata });
    const json = startCli(daemon.stateDir, ['events', '--json'], { env: kolkata });
    const probe = await untilWatching(human, json);
    const event = JSON.parse(
      json
        .stdout()
        .split('\n')
        .find((l) => l.includes(probe))!,
    ) as { at: string };
    expect(event.at).toMatch(/Z$/);
    const line = human
      .stdout()
      .split('\n')
      .find((l) => l.includes(probe))!;
    expect(line.startsWith(inKolkata(event.at)), `${line} should start with ${inKolkata(event.at)}`).toBe(
      true,
    );
    human.child.kill();
    json.child.kill();

    const id = (await ok(['spawn', 'scripted', '--cwd', '/tmp'])).stdout.trim();
    await waitState(client, id, 'idle');
    await ok(['send', id, '--prompt', 'local time please']);
    const [prompt] = JSON.parse((await ok(['prompts', id, '--json'], kolkata)).stdout) as PromptInfo[];
    expect(prompt!.queued_at).toMatch(/Z$/);
    const list = await ok(['prompts', id], kolkata);
    expect(list.stdout).toContain(inKolkata(prompt!.queued_at));
    expect((await info(id)).status).toBe('running');
  });
});
