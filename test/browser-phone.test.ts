/**
 * The workspace on a phone (390×844, touch) in Chromium against the real daemon: it installs as an app
 * (a manifest that passes the CSP), an agent that asks for approval is answered from the inbox, from
 * the pane header and by typing "1" in the composer (sent as keys, not queued as a prompt), and the
 * key bar types keys a phone keyboard lacks into the focused session, Ctrl sticky for the next key.
 * The agent is the scripted agent (test/fixtures/scripted-agent.mjs) as a custom runtime whose answer
 * keys are 1 (approve) and Esc (deny).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, HAVE_CHROMIUM, launchChromium, openWorkspace, pane, STRICT } from './support/browser.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { apiJson } from './support/http.js';
import { SCRIPTED, stateDirWithRuntimes } from './support/web-runtimes.js';

describe.runIf(!HAVE_CHROMIUM && STRICT)('web workspace on a phone (strict mode)', () => {
  it('needs Chromium', () => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test-setup.sh does it)`);
  });
});

/** Records Content-Security-Policy violations the page reports. */
const CAPTURE_CSP_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
  });
`;

interface Session {
  id: string;
  status: string;
  agent: { state: string };
}

describe.runIf(HAVE_CHROMIUM)('web workspace on a phone in Chromium', () => {
  let daemon: TestDaemon;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let token: string;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const { status, json } = await apiJson(base, path, { method, body, token });
    expect(status, `${method} ${path}: HTTP ${status}`).toBeLessThan(300);
    return json;
  };
  const session = async (id: string) => (await api('GET', `/api/sessions/${id}`)).session as Session;
  const screen = async (id: string) =>
    ((await api('GET', `/api/sessions/${id}/screen`)) as { text: string }).text;
  const waitForScreen = (id: string, pattern: RegExp, what: string) =>
    waitFor(async () => pattern.test(await screen(id)), `${what} (${pattern})`, 15_000);
  const waitForState = (id: string, state: string) =>
    waitFor(async () => (await session(id)).agent.state === state, `${id} to be ${state}`, 15_000);
  const prompt = (id: string, text: string) => api('POST', `/api/sessions/${id}/prompt`, { text });
  /** On a phone the session list is a drawer behind the menu button. */
  const openOnPhone = async (id: string) => {
    await page.locator('.menu-button').click();
    await page.locator(`.session-item[data-session-id="${id}"]`).click();
    await pane(page, id).locator('.xterm').waitFor();
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ stateDir: stateDirWithRuntimes({ scripted: SCRIPTED }) });
    base = daemon.httpUrl!;
    token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    browser = await launchChromium();
    context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    await context.addInitScript(CAPTURE_CSP_VIOLATIONS);
    context.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page = await openWorkspace(context, base, token, pageErrors);
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.dispose();
  });

  it('serves a web app manifest and icons with their content types; the page links it and is installable under its CSP', async () => {
    expect(await (await fetch(`${base}/`)).text()).toContain(
      '<link rel="manifest" href="/manifest.webmanifest"',
    );
    const response = await fetch(`${base}/manifest.webmanifest`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/manifest\+json/);
    const manifest = (await response.json()) as {
      icons: Array<{ src: string; sizes: string; type: string }>;
    } & Record<string, unknown>;
    expect(manifest).toMatchObject({ name: 'Tower', start_url: '/', scope: '/', display: 'standalone' });
    const sizes = manifest.icons.map((icon) => icon.sizes);
    expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
    for (const icon of manifest.icons) {
      const image = await fetch(new URL(icon.src, base));
      expect(image.status, icon.src).toBe(200);
      expect(image.headers.get('content-type')).toBe(icon.type);
    }

    const cdp = await context.newCDPSession(page);
    const { errors } = (await cdp.send('Page.getAppManifest')) as { errors: unknown[] };
    expect(errors).toEqual([]);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: Array<{ errorId: string }>;
    };
    // A test profile is incognito-like, where nothing installs; everything else is the app's to meet.
    expect(installabilityErrors.filter((error) => error.errorId !== 'in-incognito')).toEqual([]);
    expect(
      await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations),
    ).toEqual([]);
    expect(consoleErrors.filter((message) => /Content Security Policy|manifest/i.test(message))).toEqual([]);
  });

  let agent: string;

  it('Approve on the inbox entry answers the agent, and the entry goes', async () => {
    agent = (
      (await api('POST', '/api/sessions', { runtime: 'scripted', name: 'pocket', cwd: '/tmp' }))
        .session as Session
    ).id;
    await waitForState(agent, 'idle');
    await prompt(agent, 'ask to build');
    const entry = page.locator(`.inbox-entry[data-session-id="${agent}"][data-kind="needs_input"]`);
    await entry.waitFor({ state: 'attached', timeout: 15_000 });
    await page.locator('.menu-button').click();
    await page.locator('.inbox-button').click();
    await entry.getByRole('button', { name: 'Approve' }).click({ timeout: 5000 });
    await waitForScreen(agent, /^approved: ask to build$/m, 'the approval');
    await entry.waitFor({ state: 'detached', timeout: 15_000 });
    await waitForState(agent, 'idle');
    await page.keyboard.press('Escape');
    await page.locator('.inbox-panel').waitFor({ state: 'hidden' });
    // Still in the drawer: open the session to look at it (which closes the drawer).
    await page.locator(`.session-item[data-session-id="${agent}"]`).click();
    await pane(page, agent).locator('.xterm').waitFor();
  });

  it('Approve and Deny in the pane header answer the agent', async () => {
    const header = pane(page, agent).locator('.pane-header');
    await prompt(agent, 'ask to test');
    await header.getByRole('button', { name: 'Approve' }).click({ timeout: 15_000 });
    await waitForScreen(agent, /^approved: ask to test$/m, 'the approval');
    await waitForState(agent, 'idle');
    expect(await header.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    await prompt(agent, 'ask to lint');
    await header.getByRole('button', { name: 'Deny' }).click({ timeout: 15_000 });
    await waitForScreen(agent, /^denied$/m, 'the denial');
    await waitForState(agent, 'idle');
  });

  it('typing 1 in the composer while the agent asks answers it (and says so) instead of queueing a prompt', async () => {
    await prompt(agent, 'ask to ship');
    await waitForState(agent, 'needs_input');
    await expect.poll(() => page.locator('.composer').textContent(), { timeout: 15_000 }).toMatch(/asks/);
    await page.locator('.composer-text').fill('1');
    await page.locator('.composer-text').press('Enter');
    await waitForScreen(agent, /^approved: ask to ship$/m, 'the approval typed in the composer');
    const prompts = (await api('GET', `/api/sessions/${agent}/prompts`)).prompts as Array<{ text: string }>;
    expect(prompts.map((p) => p.text)).not.toContain('1');
    expect(await page.locator('.composer-text').inputValue()).toBe('');
    await waitForState(agent, 'idle');
  });

  it('the key bar types Esc, Tab, arrows, y/n, digits and Enter into the focused session; Ctrl holds for the next key', async () => {
    const keys = (
      (await api('POST', '/api/sessions', { command: 'cat', args: ['-A'], name: 'keys' })).session as Session
    ).id;
    await openOnPhone(keys);
    const bar = page.locator('.key-bar');
    await bar.waitFor({ state: 'visible', timeout: 5000 });
    for (const name of ['Esc', 'Tab', 'Up', 'y', '1', 'Enter'])
      await bar.getByRole('button', { name, exact: true }).click();
    await waitForScreen(keys, /^\^\[\^I\^\[\[Ay1\$$/m, 'cat -A showing the keys');

    const ctrl = bar.getByRole('button', { name: 'Ctrl', exact: true });
    await ctrl.click();
    expect(await ctrl.getAttribute('aria-pressed')).toBe('true');
    // The phone keyboard types into the composer; with Ctrl held, the key goes to the session instead.
    await page.locator('.composer-text').focus();
    await page.keyboard.press('c');
    await waitFor(async () => (await session(keys)).status === 'exited', 'Ctrl-C to end cat', 10_000);
    expect(await page.locator('.composer-text').inputValue()).toBe('');
    // The session it typed into has ended: the bar goes, Ctrl released.
    await bar.waitFor({ state: 'hidden' });
    expect(await bar.locator('button[aria-label="Ctrl"]').getAttribute('aria-pressed')).toBe('false');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
