/**
 * `tower attach` under the multi-client size policy: the size follows the client that last typed;
 * when another client makes the session larger than this terminal, attach shows a view of the
 * session's screen that fits (the part holding the cursor, with a status line), never a crop of a
 * wider layout; typing takes the size back. The real daemon, the real CLI on a real PTY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import type { SessionInfo } from '../dist/protocol/index.js';
import { AttachedTerminal, describeResult, killLeftovers, runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  client = await daemon.connect();
});

afterAll(async () => {
  killLeftovers();
  client?.end();
  await daemon?.dispose();
});

const info = async (id: string) => (await client.list()).find((s) => s.id === id) as SessionInfo;
const sized = (id: string, cols: number, rows: number) =>
  waitFor(async () => {
    const session = await info(id);
    return session.cols === cols && session.rows === rows;
  }, `session ${id} to be ${cols}x${rows}`);

describe('tower attach and a larger client', () => {
  it('shows the part of the larger screen that holds the cursor, with a status line; typing takes the size', async () => {
    const spawned = await runCli(daemon.stateDir, ['spawn', '--', '/bin/bash', '--norc', '--noprofile']);
    expect(spawned.code, describeResult(spawned)).toBe(0);
    const id = spawned.stdout.trim();
    await client.write(id, "PS1='$ '\r");
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id], { cols: 60, rows: 16 });
    await sized(id, 60, 16);
    attached.type('echo attached-$((3+4))\r');
    await attached.waitForScreen((rows) => rows.includes('attached-7'), 'the attached screen');

    // Another client takes the size: larger than this terminal in both directions.
    await client.resize(id, 120, 40);
    await client.write(id, "clear; printf 'left-mark%100s' right-mark; read -r answer\r");
    const view = await attached.waitForScreen(
      (rows) => /120.40/.test(rows[15] ?? '') && rows.some((row) => row.endsWith('right-mark')),
      'a view of the 120x40 screen around the cursor, and the status line',
    );
    // The cursor is at the end of the long line: the view scrolled right to it, and no row holds a
    // wrapped piece of the wider layout.
    expect(
      view.some((row) => row.startsWith('left-mark')),
      view.join('\n'),
    ).toBe(false);
    expect(view[15]).toMatch(/type/i);
    expect((await info(id)).cols).toBe(120);

    // A local resize while another client owns the size changes the view, not the session.
    attached.resize(70, 20);
    await attached.waitForScreen(
      (rows) => /120.40/.test(rows[19] ?? ''),
      'the status line at the new bottom',
    );
    expect(await info(id)).toMatchObject({ cols: 120, rows: 40 });

    // Typing takes the size back: the session fits again, bytes pass through, no status line.
    attached.type('y\r');
    await sized(id, 70, 20);
    attached.type('stty size\r');
    const rows = await attached.waitForScreen((r) => r.includes('20 70'), 'stty size 20 70');
    expect(
      rows.some((row) => /120.40/.test(row)),
      rows.join('\n'),
    ).toBe(false);

    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
  });

  it('a session smaller than this terminal passes bytes through unchanged', async () => {
    const spawned = await runCli(daemon.stateDir, ['spawn', '--', '/bin/bash', '--norc', '--noprofile']);
    const id = spawned.stdout.trim();
    await client.write(id, "PS1='$ '\r");
    const attached = new AttachedTerminal(daemon.stateDir, ['attach', id], { cols: 80, rows: 24 });
    await sized(id, 80, 24);
    await client.resize(id, 50, 10);
    await client.write(id, 'echo small-$((5+5))\r');
    const rows = await attached.waitForScreen((r) => r.includes('small-10'), 'the output');
    expect(
      rows.some((row) => /50.10/.test(row)),
      rows.join('\n'),
    ).toBe(false);
    attached.type('\x1c');
    expect((await attached.waitForExit()).exitCode, attached.output).toBe(0);
  });
});
