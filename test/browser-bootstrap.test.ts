/**
 * Bootstrap in the web workspace (real Chromium, real daemon): the "New session" dialog offers it for a
 * substrate on a box, streams a line per phase as it runs, and shows what the box said as text — the
 * box's HOME here holds markup, which must never become elements.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failWithoutChromium, HAVE_CHROMIUM, launchChromium } from './support/browser.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { writeSubstrates } from './support/substrates.js';

failWithoutChromium('web workspace: bootstrap');

const MARKUP = '<img src=x onerror=window.pwned=1>';

describe.runIf(HAVE_CHROMIUM)('web workspace: bootstrap in Chromium', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tower-web-bootstrap-'));
  const home = join(scratch, `home${MARKUP}`);
  let daemon: TestDaemon;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(home);
    const stateDir = join(scratch, 'state');
    mkdirSync(stateDir);
    writeSubstrates(stateDir, [{ name: 'eb', type: 'echo', box: true }]);
    daemon = await startTestDaemon({ stateDir, env: { HOME: home } });
    const token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1300, height: 800 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${daemon.httpUrl}/#token=${token}`);
    await page.locator('.spawn-button').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('offers Bootstrap for a substrate on a box, and streams a line per phase', async () => {
    await page.locator('.spawn-button').click();
    const select = page.locator('dialog select[name=substrate]');
    await expect.poll(() => select.locator('option').count()).toBe(2);
    const panel = page.locator('dialog .bootstrap-panel');
    expect(await panel.isHidden()).toBe(true);
    await select.selectOption('eb');
    expect(await panel.locator('.bootstrap-summary').textContent()).toBe('Bootstrap: not bootstrapped');
    await panel.locator('button', { hasText: 'Bootstrap' }).click();
    await expect
      .poll(() => panel.locator('.bootstrap-summary').textContent(), { timeout: 30_000 })
      .toBe('Bootstrap: ready');
    const rows = panel.locator('.bootstrap-phase');
    const shown = await rows.evaluateAll((elements) =>
      elements.map((element) => [
        (element as HTMLElement).dataset.phase,
        (element as HTMLElement).dataset.state,
        element.querySelector('.phase-icon')?.textContent,
        /^\d+\.\d s$/.test(element.querySelector('.phase-elapsed')?.textContent ?? ''),
      ]),
    );
    expect(shown).toEqual([
      ['check', 'done', '✓', true],
      ['packages', 'done', '✓', true],
      ['node', 'done', '✓', true],
      ['tower', 'done', '✓', true],
      ['agent', 'skipped', '–', true],
      ['config', 'done', '✓', true],
    ]);
    expect(await rows.last().locator('.phase-message').textContent()).toBe(`workspace ${home} writable`);
    expect(await page.locator('dialog img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    // The list of substrates is read again: the dialog says it is bootstrapped now.
    await expect
      .poll(() => select.locator('option[value=eb]').textContent())
      .toBe('eb — ready (a test stand-in: runs nothing, echoes what is typed)');
    await select.selectOption('local');
    expect(await panel.isHidden()).toBe(true);
    await select.selectOption('eb');
    expect(await panel.locator('.bootstrap-summary').textContent()).toBe('Bootstrap: bootstrapped');
  }, 60_000);

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
