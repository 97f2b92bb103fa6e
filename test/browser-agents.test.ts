/**
 * The agent side of the web workspace in a real browser (Chromium via playwright-core) against the
 * real daemon: the spawn dialog's runtime list and the credential gate, live status badges, prompts
 * through the composer (queued while the agent waits, cancellable), and an agent that needs input
 * reaching the inbox, the title and a browser notification. The agent is a small real program
 * (support/web-runtimes.ts) defined in the daemon's runtimes.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  HAVE_CHROMIUM,
  launchChromium,
  pane,
  STRICT,
  typeInto,
  waitForText,
} from './support/browser.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import {
  APPROVAL_LINE,
  BLOCKED_FIX,
  stateDirWithRuntimes,
  UNSET_CREDENTIAL,
} from './support/web-runtimes.js';

describe.runIf(!HAVE_CHROMIUM && STRICT)('web workspace: agents (strict mode)', () => {
  it('needs Chromium', () => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test-setup.sh does it)`);
  });
});

/** Records every `new Notification(…)` the page makes, then lets the real one run. */
const CAPTURE_NOTIFICATIONS = `
  window.__notifications = [];
  const Real = window.Notification;
  if (Real) {
    window.Notification = new Proxy(Real, {
      construct(target, args) {
        window.__notifications.push({ title: String(args[0]), body: String(args[1]?.body ?? '') });
        return new target(...args);
      },
    });
  }
`;

describe.runIf(HAVE_CHROMIUM)('web workspace: agents in Chromium', () => {
  let daemon: TestDaemon;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let token: string;
  const pageErrors: string[] = [];

  const notifications = () =>
    page.evaluate(
      () =>
        (window as unknown as { __notifications: Array<{ title: string; body: string }> }).__notifications,
    );
  const item = (id: string) => page.locator(`.session-item[data-session-id="${id}"]`);
  const badge = (id: string) => item(id).locator('.badge').textContent();
  const sessionPrompts = async (id: string) => {
    const response = await fetch(`${base}/api/sessions/${id}/prompts`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return ((await response.json()) as { prompts: Array<{ id: string; text: string; state: string }> })
      .prompts;
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ stateDir: stateDirWithRuntimes() });
    base = daemon.httpUrl!;
    token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1300, height: 800 } });
    await context.grantPermissions(['notifications'], { origin: base });
    await context.addInitScript(CAPTURE_NOTIFICATIONS);
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${base}/#token=${token}`);
    await page.locator('.spawn-button').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.dispose();
  });

  it('the spawn dialog lists runtimes, says what blocks one and how to fix it, and shows the gate refusal', async () => {
    await page.locator('.spawn-button').click();
    const select = page.locator('dialog select[name=runtime]');
    await expect.poll(() => select.locator('option').count()).toBeGreaterThan(2);
    expect(await select.inputValue()).toBe('shell');
    expect(await select.locator('option[value=shell]').textContent()).toBe('shell — ready');
    expect(await select.locator('option[value=fakeagent]').textContent()).toBe('fakeagent — ready');
    expect(await select.locator('option[value=blocked]').textContent()).toBe('blocked — blocked');

    await select.selectOption('blocked');
    const info = page.locator('dialog .runtime-info');
    await expect.poll(() => info.locator('.runtime-missing').textContent()).toContain(`$${UNSET_CREDENTIAL}`);
    expect(await info.locator('.runtime-fix').textContent()).toContain(BLOCKED_FIX);

    await page.locator('dialog button[type=submit]').click();
    const error = page.locator('dialog .form-error');
    await expect.poll(() => error.textContent()).toContain(`cannot start blocked`);
    expect(await error.textContent()).toContain(BLOCKED_FIX);
    expect(await page.locator('dialog').evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);

    await select.selectOption('shell');
    expect(await info.locator('.runtime-missing').count()).toBe(0);
    await page.locator('dialog button', { hasText: 'Cancel' }).click();
  });

  let agent: string;

  it('spawns the agent from the dialog: its badge goes live from starting to idle', async () => {
    await page.locator('.spawn-button').click();
    await page.locator('dialog select[name=runtime]').selectOption('fakeagent');
    await page.locator('dialog input[name=name]').fill('agent1');
    await page.locator('dialog button[type=submit]').click();
    const entry = page.locator('.session-item', { hasText: 'agent1' });
    await entry.waitFor();
    agent = (await entry.getAttribute('data-session-id'))!;
    await expect.poll(() => badge(agent)).toBe('idle');
    expect(await item(agent).locator('.runtime-tag').textContent()).toBe('fakeagent');
    expect(await page.locator(`.tab[data-session-id="${agent}"]`).getAttribute('data-state')).toBe('idle');
    await waitForText(page, agent, /^agent>/m, "the agent's prompt");
  });

  it('a prompt from the composer makes the agent ask; the page shows needs input, an inbox entry and a notification', async () => {
    await page.locator('.composer-button').click();
    await page.locator(`.composer-target input[data-session-id="${agent}"]`).check();
    await page.locator('.composer-text').fill('refactor the parser');
    await page.locator('.composer-text').press('Enter');
    await waitForText(page, agent, /^working on: refactor the parser$/m, 'the agent taking the prompt');

    await expect.poll(() => badge(agent), { timeout: 15_000 }).toBe('needs input');
    expect(await item(agent).locator('.badge').getAttribute('data-status')).toBe('needs_input');
    expect(await page.locator(`.tab[data-session-id="${agent}"]`).getAttribute('data-state')).toBe(
      'needs_input',
    );
    const inboxEntry = page.locator(`.inbox-entry[data-session-id="${agent}"][data-kind="needs_input"]`);
    await inboxEntry.waitFor({ state: 'attached' });
    expect(await inboxEntry.locator('.inbox-text').textContent()).toContain(APPROVAL_LINE);
    await expect.poll(() => page.title()).toBe('(1) Tower');
    await expect
      .poll(notifications)
      .toEqual([{ title: 'agent1 needs input', body: expect.stringContaining(APPROVAL_LINE) }]);
    const sent = page.locator('.composer-queue .prompt-item', { hasText: 'refactor the parser' });
    await expect.poll(() => sent.locator('.prompt-state').textContent()).toBe('delivered');
  });

  it('a prompt for an agent that waits is queued, shown with a count, and can be cancelled', async () => {
    // From elsewhere (the composer types into an agent that asks: see browser-phone.test.ts).
    const response = await fetch(`${base}/api/sessions/${agent}/prompt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'write the tests' }),
    });
    expect(((await response.json()) as { prompt: { state: string } }).prompt.state).toBe('queued');
    const queued = page.locator('.composer-queue .prompt-item', { hasText: 'write the tests' });
    await queued.waitFor();
    expect(await queued.locator('.prompt-state').textContent()).toBe('queued');
    await expect.poll(() => item(agent).locator('.queue-tag').textContent()).toBe('1 queued');
    expect(await page.locator(`.tab[data-session-id="${agent}"] .tab-queue`).textContent()).toBe('1');

    await queued.locator('.cancel-prompt').click();
    // No longer waiting, and not sent from this page: it leaves the list.
    await queued.waitFor({ state: 'detached' });
    await expect.poll(() => item(agent).locator('.queue-tag').count()).toBe(0);
    const states = (await sessionPrompts(agent))
      .filter((p) => p.text === 'write the tests')
      .map((p) => p.state);
    expect(states).toEqual(['cancelled']);
  });

  it('answering in the terminal takes it back to idle; opening the session clears its inbox entry', async () => {
    await typeInto(page, agent, 'y\n');
    await waitForText(page, agent, /^answered y$/m, 'the answer');
    await expect.poll(() => badge(agent), { timeout: 15_000 }).toBe('idle');
    await item(agent).click();
    await expect.poll(() => page.locator(`.inbox-entry[data-session-id="${agent}"]`).count()).toBe(0);
    await expect.poll(() => page.title()).toBe('Tower');
    expect(await pane(page, agent).locator('.pane-header .badge').textContent()).toBe('idle');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
