/**
 * Snapshots on GET /ws/terminal/:id over the real daemon (support/terminal-route.ts): the first
 * one and the frames after it reproduce the daemon's screen; one asked for later, whole or of the
 * visible screen only (to paint after older output replayed from the journal), is followed by the
 * frames from its offset.
 */
import xtermHeadless from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { waitFor } from './support/daemon.js';
import { type BrowserOptions, expectContiguous } from './support/terminal-browser.js';
import { startTerminalRoute, type TerminalRoute } from './support/terminal-route.js';

const { Terminal } = xtermHeadless;

/** The visible rows of a headless terminal, trailing spaces trimmed, as the daemon's screen text. */
function visibleRows(terminal: InstanceType<typeof Terminal>): string {
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < terminal.rows; y++)
    lines.push(
      buffer
        .getLine(buffer.baseY + y)!
        .translateToString(true)
        .trimEnd(),
    );
  return lines.join('\n');
}

describe('WebSocket terminal route: snapshots', () => {
  let route: TerminalRoute;
  let client: TowerClient;
  const openBrowser = (sessionId: string, options?: BrowserOptions) => route.openBrowser(sessionId, options);
  const interactiveShell = (extra?: Record<string, unknown>) => route.interactiveShell(extra);

  beforeAll(async () => {
    route = await startTerminalRoute();
    client = route.client;
  });

  afterAll(async () => {
    await route?.close();
  });

  it('a snapshot and the frames after it reproduce the daemon screen in xterm', async () => {
    const sessionId = await interactiveShell({ cols: 70, rows: 20 });
    await client.write(
      sessionId,
      'for i in $(seq 1 60); do printf "\\033[3%dmrow %d\\033[0m\\n" $((i % 7)) $i; done\n',
    );
    await waitFor(async () => (await client.screen(sessionId)).text.includes('row 60'), 'rows');
    const browser = await openBrowser(sessionId);
    const snapshot = await browser.next('snapshot');
    browser.send({ type: 'input', seq: 1, data: 'printf "\\033[2J\\033[5;7Hmoved-%s" here\n' });
    await waitFor(() => browser.text().includes('moved-here'), 'moved text');
    const screen = await waitFor(async () => {
      const current = await client.screen(sessionId);
      return current.offset === browser.end && current.text.includes('moved-here') && current;
    }, 'the daemon screen to match the frames received');

    const terminal = new Terminal({ cols: snapshot.cols, rows: snapshot.rows, allowProposedApi: true });
    const write = (data: string | Uint8Array) => new Promise<void>((r) => terminal.write(data, r));
    await write(snapshot.data);
    for (const frame of browser.frames()) await write(frame.data!);
    expect(visibleRows(terminal)).toBe(screen.text);
    const buffer = terminal.buffer.active;
    expect([buffer.cursorX, buffer.cursorY]).toEqual([screen.cursor_x, screen.cursor_y]);
  });

  it('a snapshot request gets a fresh snapshot, then frames from its offset', async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId);
    await browser.next('snapshot');
    // DONE comes well after the snapshot, which is as fresh as the screen model when it is taken.
    browser.send({ type: 'input', seq: 1, data: 'seq 1 3000; sleep 0.5; echo DONE-$((2*4))\n' });
    browser.send({ type: 'snapshot' });
    const fresh = await browser.next('snapshot', 2);
    await waitFor(() => browser.tail().includes('DONE-8\r\n'), 'output after the snapshot');
    expectContiguous(browser.framesAfterSnapshot(), fresh.offset);
  });

  it('a screen-only snapshot paints the visible screen without scrollback, then frames from its offset', async () => {
    const sessionId = await interactiveShell({ cols: 60, rows: 12 });
    await client.write(sessionId, 'seq 1 100; echo SEQ-$((5*5))\n');
    await waitFor(async () => (await client.screen(sessionId)).text.includes('SEQ-25'), 'the rows');
    const browser = await openBrowser(sessionId);
    const first = await browser.next('snapshot');
    expect(first.screen_only).toBeUndefined();
    expect(first.data).toContain('\r\n42');

    browser.send({ type: 'snapshot', screen_only: true });
    const screenOnly = await browser.next('snapshot', 2);
    expect(screenOnly.screen_only).toBe(true);
    const terminal = new Terminal({ cols: screenOnly.cols, rows: screenOnly.rows, allowProposedApi: true });
    await new Promise<void>((r) => terminal.write(screenOnly.data, r));
    expect(terminal.buffer.active.length).toBe(screenOnly.rows); // nothing scrolled off
    expect(visibleRows(terminal)).toBe((await client.screen(sessionId)).text);

    browser.send({ type: 'input', seq: 1, data: 'echo AFTER-$((3*3))\n' });
    await waitFor(() => browser.tail().includes('AFTER-9\r\n'), 'output after the screen-only snapshot');
    expectContiguous(browser.framesAfterSnapshot(), screenOnly.offset);
  });

  it('a screen-only request is not lost to a whole snapshot already on its way', async () => {
    const sessionId = await interactiveShell();
    const browser = await openBrowser(sessionId);
    await browser.next('snapshot');
    browser.send({ type: 'snapshot' });
    browser.send({ type: 'snapshot', screen_only: true });
    await waitFor(() => browser.messages('snapshot').some((m) => m.screen_only), 'the screen-only snapshot');
    browser.send({ type: 'input', seq: 1, data: 'echo LAST-$((4*4))\n' });
    await waitFor(() => browser.tail().includes('LAST-16\r\n'), 'output after it');
    const snapshots = browser.messages('snapshot');
    expect(snapshots.at(-1)?.screen_only).toBe(true);
    expectContiguous(browser.framesAfterSnapshot(), snapshots.at(-1)!.offset);
  });
});
