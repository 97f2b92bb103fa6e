/**
 * The workspace as users meet it, in Chromium against the real daemon: kill and delete ask first, the
 * inbox keeps only what still wants the user (and nothing for a session ended on purpose) and closes
 * on Escape, and the spawn dialog quotes arguments, expands `~`, forgets stale errors and says why a
 * runtime cannot start.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  HAVE_CHROMIUM,
  launchChromium,
  openSession,
  openWorkspace,
  pane,
  STRICT,
  waitForText,
} from './support/browser.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { apiJson } from './support/http.js';
import { MISSING, SCRIPTED, stateDirWithRuntimes } from './support/web-runtimes.js';

describe.runIf(!HAVE_CHROMIUM && STRICT)(
  'web workspace: confirmations, inbox, spawn dialog (strict mode)',
  () => {
    it('needs Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test-setup.sh does it)`);
    });
  },
);

interface Session {
  id: string;
  name: string | null;
  status: string;
  args: string[];
  cwd: string;
  agent: { state: string };
}

describe.runIf(HAVE_CHROMIUM)('web workspace: confirmations, inbox, spawn dialog in Chromium', () => {
  let daemon: TestDaemon;
  let browser: Browser;
  let page: Page;
  let base: string;
  let token: string;
  const pageErrors: string[] = [];
  /** The daemon's HOME, where `~` points. */
  const home = mkdtempSync(join(tmpdir(), 'tower-web-home-'));
  mkdirSync(join(home, 'proj'));

  const api = (method: string, path: string, body?: unknown) => apiJson(base, path, { method, body, token });
  const session = async (id: string) => (await api('GET', `/api/sessions/${id}`)).json.session as Session;
  const spawnViaApi = async (body: Record<string, unknown>) => {
    const { status, json } = await api('POST', '/api/sessions', body);
    expect(status).toBe(201);
    return (json.session as Session).id;
  };
  const item = (id: string) => page.locator(`.session-item[data-session-id="${id}"]`);
  const badge = (id: string) => item(id).locator('.badge').textContent();
  const inboxEntry = (id: string, kind?: string) =>
    page.locator(`.inbox-entry[data-session-id="${id}"]${kind ? `[data-kind="${kind}"]` : ''}`);
  const confirmDialog = () => page.locator('dialog.confirm-dialog');
  const spawnDialog = () => page.locator('dialog.spawn-dialog');

  beforeAll(async () => {
    daemon = await startTestDaemon({
      stateDir: stateDirWithRuntimes({ scripted: SCRIPTED, missing: MISSING }),
      env: { HOME: home },
    });
    base = daemon.httpUrl!;
    token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1300, height: 800 } });
    page = await openWorkspace(context, base, token, pageErrors);
  });

  // A failed test must not leave a modal dialog in front of the next one.
  afterEach(async () => {
    await page.evaluate(() => {
      for (const dialog of document.querySelectorAll('dialog[open]')) (dialog as HTMLDialogElement).close();
    });
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.dispose();
    rmSync(home, { recursive: true, force: true });
  });

  describe('kill and delete', () => {
    let victim: string;

    it('kill asks first, naming the session; Cancel keeps it running, Kill hangs it up', async () => {
      victim = await spawnViaApi({ name: 'victim' });
      await item(victim).locator('button.danger').click();
      await confirmDialog().waitFor({ timeout: 5000 });
      const text = await confirmDialog().textContent();
      expect(text).toContain('victim');
      expect(text).toMatch(/hang up/i);
      await confirmDialog().getByRole('button', { name: 'Cancel' }).click();
      await confirmDialog().waitFor({ state: 'detached' });
      expect((await session(victim)).status).toBe('running');

      // The pane header's kill button asks too; this time the user means it.
      await openSession(page, victim);
      await pane(page, victim).locator('.pane-header button.danger').click();
      await confirmDialog().waitFor({ timeout: 5000 });
      await confirmDialog().getByRole('button', { name: 'Kill' }).click();
      await expect.poll(() => badge(victim)).toMatch(/^exited/);
    });

    it('delete asks first, saying the output goes for good; Cancel keeps the session and its output', async () => {
      await item(victim).locator('button[title*="its output"]').click();
      await confirmDialog().waitFor({ timeout: 5000 });
      const text = await confirmDialog().textContent();
      expect(text).toContain('victim');
      expect(text).toMatch(/output/);
      expect(text).toMatch(/cannot be undone/);
      await page.keyboard.press('Escape');
      await confirmDialog().waitFor({ state: 'detached' });
      expect((await api('GET', `/api/sessions/${victim}`)).status).toBe(200);
      expect((await api('GET', `/api/sessions/${victim}/output`)).status).toBe(200);
      expect(await item(victim).count()).toBe(1);

      await item(victim).locator('button[title*="its output"]').click();
      await confirmDialog().getByRole('button', { name: 'Delete' }).click();
      await item(victim).waitFor({ state: 'detached' });
      expect((await api('GET', `/api/sessions/${victim}`)).status).toBe(404);
    });
  });

  describe('the inbox', () => {
    it('closes on Escape', async () => {
      await page.locator('.inbox-button').click();
      await expect.poll(() => page.locator('.inbox-panel').isVisible()).toBe(true);
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('.inbox-panel').isVisible()).toBe(false);
    });

    it('gets nothing for a session killed on purpose, and an entry for one that exits by itself', async () => {
      const killed = await spawnViaApi({ name: 'killed' });
      const failing = await spawnViaApi({ name: 'failing' });
      expect((await api('DELETE', `/api/sessions/${killed}`)).status).toBe(200);
      await api('POST', `/api/sessions/${failing}/input`, { data: 'exit 3\n' });
      // Events arrive in order: once the failing one's entry is here, the kill's would be too.
      await inboxEntry(failing).waitFor({ state: 'attached' });
      expect(await inboxEntry(killed).count()).toBe(0);
      await expect.poll(() => badge(killed)).toMatch(/^exited/);
    });

    it('names what an approval asks, and drops it once answered elsewhere; a finished turn goes once it works again', async () => {
      const agent = await spawnViaApi({ runtime: 'scripted', name: 'helper', cwd: '/tmp' });
      await expect.poll(() => badge(agent), { timeout: 15_000 }).toBe('idle');
      await api('POST', `/api/sessions/${agent}/prompt`, { text: 'ask to deploy' });
      const asking = inboxEntry(agent, 'needs_input');
      await asking.waitFor({ state: 'attached', timeout: 15_000 });
      expect(await asking.locator('.inbox-text').textContent()).toBe('ask to deploy');

      // Another client answers (the CLI, another window): the page was never opened on it.
      await api('POST', `/api/sessions/${agent}/input`, { data: 'y' });
      await asking.waitFor({ state: 'detached', timeout: 15_000 });
      const finished = inboxEntry(agent, 'turn_finished');
      await finished.waitFor({ state: 'attached', timeout: 15_000 });

      await api('POST', `/api/sessions/${agent}/prompt`, { text: 'ask again' });
      await asking.waitFor({ state: 'attached', timeout: 15_000 });
      await finished.waitFor({ state: 'detached', timeout: 15_000 });
    });
  });

  describe('the spawn dialog', () => {
    const open = async (runtime = 'shell') => {
      await page.locator('.spawn-button').click();
      const select = spawnDialog().locator('select[name=runtime]');
      // Listing runtimes asks each installed one for its version: give it time.
      await expect
        .poll(() => select.locator(`option[value="${runtime}"]`).count(), { timeout: 15_000 })
        .toBe(1);
      await select.selectOption(runtime);
      for (const field of ['cwd', 'name', 'args'])
        await spawnDialog().locator(`input[name=${field}]`).fill('');
    };
    const start = () => spawnDialog().locator('button[type=submit]');
    const error = () => spawnDialog().locator('.form-error');
    const created = async (name: string) => {
      const entry = page.locator('.session-item', { hasText: name });
      await entry.waitFor();
      return session((await entry.getAttribute('data-session-id'))!);
    };

    it("keeps the extra arguments' shell quoting", async () => {
      await open();
      await spawnDialog().locator('input[name=name]').fill('quoted');
      await spawnDialog().locator('input[name=args]').fill(`-c 'echo hi; sleep 30'`);
      await start().click();
      const quoted = await created('quoted');
      expect(quoted.args).toEqual(['-c', 'echo hi; sleep 30']);
      await waitForText(page, quoted.id, /^hi$/m, 'the quoted command running');
      expect((await session(quoted.id)).status).toBe('running');
    });

    it('says so inline when a quote is not closed, and starts nothing', async () => {
      const before = ((await api('GET', '/api/sessions')).json.sessions as Session[]).length;
      await open();
      await spawnDialog().locator('input[name=args]').fill(`-c 'echo hi`);
      await start().click();
      await expect.poll(() => error().textContent()).toMatch(/unterminated ' quote/);
      expect(await spawnDialog().evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
      expect(((await api('GET', '/api/sessions')).json.sessions as Session[]).length).toBe(before);
      await spawnDialog().getByRole('button', { name: 'Cancel' }).click();
    });

    it("takes ~ in the working directory as the daemon user's home", async () => {
      await open();
      await spawnDialog().locator('input[name=cwd]').fill('~/proj');
      await spawnDialog().locator('input[name=name]').fill('homed');
      await start().click();
      expect((await created('homed')).cwd).toBe(join(home, 'proj'));
    });

    it('clears an error when the runtime changes', async () => {
      await open('blocked');
      await start().click();
      await expect.poll(() => error().textContent()).toContain('cannot start blocked');
      expect(await error().isVisible()).toBe(true);
      await spawnDialog().locator('select[name=runtime]').selectOption('shell');
      expect(await error().isVisible()).toBe(false);
      await spawnDialog().getByRole('button', { name: 'Cancel' }).click();
    });

    it('disables Start, saying why, for a runtime that is not installed', async () => {
      await open('missing');
      expect(await start().isDisabled()).toBe(true);
      expect(await spawnDialog().locator('.start-reason').textContent()).toMatch(/not installed/);
      await spawnDialog().locator('select[name=runtime]').selectOption('shell');
      expect(await start().isDisabled()).toBe(false);
      expect(await spawnDialog().locator('.start-reason').isVisible()).toBe(false);
      await spawnDialog().getByRole('button', { name: 'Cancel' }).click();
    });
  });

  it('shows no key bar on a wide screen with a mouse', async () => {
    expect(await page.locator('.key-bar').isVisible()).toBe(false);
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
