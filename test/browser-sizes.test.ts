/**
 * Several browser windows on one session (real Chromium, real daemon, a real shell): the size
 * follows the window that typed last, and every other window shows the whole screen — scaled down
 * to fit its pane when the session is larger, at its natural size when smaller — never a crop.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  failWithoutChromium,
  HAVE_CHROMIUM,
  inside,
  launchChromium,
  openSession,
  pane,
  startWebDaemon,
  type TerminalGeometry,
  terminalGeometry,
  typeInto,
  type WebDaemon,
  waitForText,
} from './support/browser.js';
import { waitFor } from './support/daemon.js';

failWithoutChromium('terminal sizes');

const BASE_FONT_SIZE = 13;

describe.runIf(HAVE_CHROMIUM)('several windows on one session in Chromium', () => {
  let web: WebDaemon;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let large: Page;
  let small: Page;
  let id: string;

  const sessionSize = async () =>
    (await web.api<{ session: { cols: number; rows: number } }>('GET', `/api/sessions/${id}`)).session;

  async function openWindow(width: number, height: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${web.base}/#token=${web.token}`);
    await page.locator(`.session-item[data-session-id="${id}"]`).waitFor();
    await openSession(page, id);
    return page;
  }

  /** The window shows the whole screen: every cell, the prompt's line and the cursor inside its pane. */
  function expectWholeScreen(geometry: TerminalGeometry): void {
    expect(inside(geometry.screen, geometry.view), JSON.stringify(geometry)).toBe(true);
    expect(inside(geometry.cursor, geometry.view), JSON.stringify(geometry)).toBe(true);
  }

  /** Wait until the window's terminal has the session's current size. */
  const sizedLikeSession = (page: Page) =>
    waitFor(async () => {
      const { cols, rows } = await sessionSize();
      const geometry = await terminalGeometry(page, id);
      return geometry.cols === cols && geometry.rows === rows && geometry;
    }, 'the window to take the session size');

  beforeAll(async () => {
    web = await startWebDaemon();
    id = await web.spawnShell('shared');
    browser = await launchChromium();
    large = await openWindow(1400, 900);
    small = await openWindow(820, 560);
    await waitForText(large, id, /\S/, 'a prompt in the large window');
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await web?.daemon.dispose();
  });

  it('typing in the large window: the small one shows its whole screen, scaled down to fit', async () => {
    await typeInto(large, id, "PS1='size-prompt> '; clear; seq 1 150; echo pick-this-word\n");
    await waitForText(large, id, /^pick-this-word\nsize-prompt> ?$/m, 'the output in the large window');
    const owner = await sizedLikeSession(large);
    expect(owner.fontSize).toBe(BASE_FONT_SIZE);
    expectWholeScreen(owner);

    await waitForText(small, id, /^pick-this-word\nsize-prompt> ?$/m, 'the output in the small window');
    const watcher = await sizedLikeSession(small);
    expect(watcher.cols).toBeGreaterThan(100); // laid out for the large window, wider than the small pane
    expectWholeScreen(watcher);
    expect(watcher.fontSize).toBeLessThan(BASE_FONT_SIZE);
  });

  it('text stays selectable in the scaled window, and selecting does not take the size', async () => {
    const before = await sessionSize();
    const { x, y } = await pane(small, id)
      .locator('.terminal-view')
      .evaluate((element) => {
        const term = (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal;
        const buffer = term.buffer.active;
        let row = buffer.length - 1;
        while (row > 0 && !buffer.getLine(row)?.translateToString(true).startsWith('pick-this-word')) row--;
        const screen = element.querySelector('.xterm-screen')!.getBoundingClientRect();
        const cellWidth = screen.width / term.cols;
        const cellHeight = screen.height / term.rows;
        return {
          x: screen.left + 3.5 * cellWidth,
          y: screen.top + (row - buffer.viewportY + 0.5) * cellHeight,
        };
      });
    await small.mouse.dblclick(x, y);
    await expect
      .poll(() =>
        pane(small, id)
          .locator('.terminal-view')
          .evaluate((element) =>
            (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal.getSelection(),
          ),
      )
      .toBe('pick-this-word');
    expect(await sessionSize()).toMatchObject({ cols: before.cols, rows: before.rows });
  });

  it('typing in the small window: the large one shows the smaller screen whole, at its natural size', async () => {
    await typeInto(small, id, 'clear; seq 1 80; echo from-the-small-one\n');
    await waitForText(small, id, /^from-the-small-one\nsize-prompt> ?$/m, 'the output in the small window');
    const owner = await sizedLikeSession(small);
    expect(owner.fontSize).toBe(BASE_FONT_SIZE);
    expect(owner.cols).toBeLessThan(110);
    expectWholeScreen(owner);

    await waitForText(large, id, /^from-the-small-one\nsize-prompt> ?$/m, 'the output in the large window');
    const watcher = await sizedLikeSession(large);
    expect(watcher.fontSize).toBe(BASE_FONT_SIZE);
    expectWholeScreen(watcher);
  });

  it('a split pane too narrow even for the smallest font still shows the whole screen', async () => {
    await typeInto(large, id, 'clear; seq 1 60; echo large-again\n');
    await waitForText(large, id, /^large-again\nsize-prompt> ?$/m, 'the output in the large window');
    const owner = await sizedLikeSession(large);
    const other = await web.spawnShell('other');
    await small.locator('.layout-button[data-layout="4"]').click();
    await small.locator(`.session-item[data-session-id="${other}"]`).click();
    await pane(small, other).locator('.xterm').waitFor();
    expect(await small.locator('.pane').count()).toBe(2);
    await waitForText(small, id, /^large-again\nsize-prompt> ?$/m, 'the output in the split pane');
    const watcher = await waitFor(async () => {
      const geometry = await terminalGeometry(small, id);
      return geometry.cols === owner.cols && inside(geometry.screen, geometry.view) && geometry;
    }, 'the split pane to show the whole screen');
    expectWholeScreen(watcher);
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
