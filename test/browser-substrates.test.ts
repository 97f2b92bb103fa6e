/**
 * Substrates in the web workspace (real Chromium, real daemon, real bubblewrap): the spawn dialog asks
 * where to run only once substrates.json offers more than `local`; a session started on a sandbox from
 * the dialog runs there, and the sidebar says so.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failWithoutChromium, HAVE_CHROMIUM, launchChromium } from './support/browser.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { failWithoutBwrap, HAVE_BWRAP, writeSubstrates } from './support/substrates.js';

failWithoutChromium('web workspace: substrates');
failWithoutBwrap('web workspace: substrates');

describe.runIf(HAVE_CHROMIUM && HAVE_BWRAP)('web workspace: substrates in Chromium', () => {
  let daemon: TestDaemon;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const workspace = mkdtempSync(join(tmpdir(), 'tower-web-substrate-'));

  beforeAll(async () => {
    daemon = await startTestDaemon();
    const token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1300, height: 800 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${daemon.httpUrl}/#token=${token}`);
    await page.locator('.spawn-button').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.dispose();
    rmSync(workspace, { recursive: true, force: true });
  });

  const field = () => page.locator('dialog label', { has: page.locator('select[name=substrate]') });

  it('with local alone, the dialog does not ask where to run', async () => {
    await page.locator('.spawn-button').click();
    await expect.poll(() => page.locator('dialog select[name=substrate] option').count()).toBe(1);
    expect(await field().isHidden()).toBe(true);
    await page.locator('dialog button', { hasText: 'Cancel' }).click();
  });

  it('with a sandbox declared, it asks; a shell started there runs there, and the sidebar says so', async () => {
    writeSubstrates(daemon.stateDir, [{ name: 'box', type: 'sandbox', network: false }]);
    await page.locator('.spawn-button').click();
    const select = page.locator('dialog select[name=substrate]');
    await expect.poll(() => select.locator('option').count()).toBe(2);
    expect(await field().isVisible()).toBe(true);
    expect(await select.locator('option[value=box]').textContent()).toBe(
      'box — ready (bubblewrap, network off)',
    );
    expect(await select.inputValue()).toBe('local');
    await select.selectOption('box');
    await page.locator('dialog input[name=cwd]').fill(workspace);
    await page.locator('dialog input[name=name]').fill('boxed');
    await page.locator('dialog button[type=submit]').click();
    const entry = page.locator('.session-item', { hasText: 'boxed' });
    await entry.waitFor();
    expect(await entry.locator('.session-substrate').textContent()).toBe('box');
    const id = (await entry.getAttribute('data-session-id'))!;
    const response = await fetch(`${daemon.httpUrl}/api/sessions/${id}`, {
      headers: { authorization: `Bearer ${readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim()}` },
    });
    expect(((await response.json()) as { session: { substrate: string } }).session.substrate).toBe('box');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
