/**
 * Scrollback older than the first snapshot's (real Chromium, real daemon, a real shell): after a
 * reload the terminal starts with the daemon's 1000 lines of scrollback; scrolling to the top, or
 * searching, loads older output from the journal, without losing or repeating a live byte and
 * leaving the visible screen as the daemon has it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  failWithoutChromium,
  HAVE_CHROMIUM,
  launchChromium,
  openSession,
  pane,
  startWebDaemon,
  terminalText,
  typeInto,
  type WebDaemon,
  waitForText,
} from './support/browser.js';
import { waitFor } from './support/daemon.js';

failWithoutChromium('terminal history');

const LINES = 5000;
const row = (n: number) => `row ${String(n).padStart(5, '0')}`;

describe.runIf(HAVE_CHROMIUM)('older output on scroll-up in Chromium', () => {
  let web: WebDaemon;
  let browser: Browser;
  let page: Page;
  let id: string;
  const pageErrors: string[] = [];

  const screenText = async () => (await web.api<{ text: string }>('GET', `/api/sessions/${id}/screen`)).text;

  /** The rows the terminal shows at the bottom of its buffer, as the daemon's screen text has them. */
  const visibleRows = () =>
    pane(page, id)
      .locator('.terminal-view')
      .evaluate((element) => {
        const term = (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal;
        const buffer = term.buffer.active;
        const lines: string[] = [];
        for (let y = 0; y < term.rows; y++)
          lines.push((buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? '').replace(/ +$/, ''));
        return lines.join('\n');
      });

  const trimEnd = (text: string) => text.replace(/\n+$/, '');

  /** Page up (Shift+PageUp, as a user would) until the view is at the top of what the terminal holds. */
  async function scrollToTop(): Promise<void> {
    await pane(page, id).locator('.terminal-view').click();
    await waitFor(
      async () => {
        for (let i = 0; i < 10; i++) await page.keyboard.press('Shift+PageUp');
        return pane(page, id)
          .locator('.terminal-view')
          .evaluate(
            (element) =>
              (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal.buffer.active
                .viewportY === 0,
          );
      },
      'the view at the top',
      30_000,
    );
  }

  async function reload(): Promise<void> {
    await page.reload();
    await pane(page, id).locator('.xterm').waitFor();
    await waitForText(page, id, new RegExp(`^${row(LINES)}$`, 'm'), 'the last row after the reload');
  }

  beforeAll(async () => {
    web = await startWebDaemon();
    id = await web.spawnShell('long');
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${web.base}/#token=${web.token}`);
    await page.locator(`.session-item[data-session-id="${id}"]`).waitFor();
    await openSession(page, id);
    await waitForText(page, id, /\S/, 'a prompt');
    await typeInto(page, id, `PS1='h> '; seq -f 'row %05g' 1 ${LINES}\n`);
    await waitForText(page, id, new RegExp(`^${row(LINES)}\\nh> ?$`, 'm'), 'every row printed');
  });

  afterAll(async () => {
    await browser?.close();
    await web?.daemon.dispose();
  });

  it('after a reload, scrolling to the top loads the older rows, each once, in order', async () => {
    await reload();
    expect(await terminalText(page, id)).not.toContain(row(10)); // the snapshot has 1000 lines
    await scrollToTop();
    await waitForText(page, id, new RegExp(`^${row(1)}$`, 'm'), 'the first row, loaded from the journal');
    const rows = (await terminalText(page, id)).split('\n').filter((line) => line.startsWith('row '));
    expect(rows).toEqual(Array.from({ length: LINES }, (_, i) => row(i + 1)));
    expect(trimEnd(await visibleRows())).toBe(trimEnd(await screenText()));
  });

  it('after a reload, the find bar finds a row far beyond the first 1000 lines', async () => {
    await reload();
    await pane(page, id).locator('.terminal-view').click();
    await page.keyboard.press('Control+Shift+F');
    const search = pane(page, id).locator('.search-input');
    await search.fill(row(10));
    await search.press('Enter');
    await expect.poll(() => pane(page, id).locator('.search-count').textContent()).toBe('1/1');
    await search.press('Escape');
  });

  it('output that arrives while older output loads is shown once, and the screen stays the daemon’s', async () => {
    await reload();
    // Ticks until told to stop, which is only once the older rows are in: they run through the load.
    const stop = join(web.daemon.stateDir, 'stop-ticking');
    await typeInto(
      page,
      id,
      `i=0; until [ -e ${stop} ]; do i=$((i+1)); echo tick-$i; sleep 0.02; done; echo ticked-$i\n`,
    );
    await waitForText(page, id, /^tick-20$/m, 'the ticks to start');
    await scrollToTop();
    await waitForText(page, id, new RegExp(`^${row(1)}$`, 'm'), 'the first row, loaded while ticking');
    writeFileSync(stop, '');
    await waitForText(page, id, /^ticked-\d+$/m, 'the ticks to end');
    const text = await terminalText(page, id);
    const count = Number(/^ticked-(\d+)$/m.exec(text)![1]);
    const ticks = text.split('\n').filter((line) => line.startsWith('tick-'));
    expect(ticks).toEqual(Array.from({ length: count }, (_, i) => `tick-${i + 1}`));
    await waitFor(
      async () => trimEnd(await visibleRows()) === trimEnd(await screenText()),
      'the visible screen to be the daemon’s',
    );
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
