/**
 * A restarted session replaces the one it resumes in the web workspace (real Chromium, real daemon):
 * tabs and panes follow to the new session, and the old one is listed collapsed under it. After
 * kill -9 and `serve --resume-lost`, the page follows to the relaunched session and its inbox says
 * what was lost. The agent is the scripted one (test/fixtures/scripted-agent.mjs) as a custom runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedRuntime, writeRuntimes } from './support/agents.js';
import {
  freePort,
  HAVE_CHROMIUM,
  launchChromium,
  openSession,
  pane,
  terminalText,
  waitForText,
} from './support/browser.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { api } from './support/http.js';

describe.runIf(HAVE_CHROMIUM)('web workspace: restarted and lost sessions', () => {
  let daemon: TestDaemon;
  let browser: Browser;
  let page: Page;
  let base: string;
  let token: string;
  const pageErrors: string[] = [];

  const item = (id: string) => page.locator(`.session-item[data-session-id="${id}"]`);
  const tab = (id: string) => page.locator(`.tab[data-session-id="${id}"]`);
  const tabIds = () =>
    page.locator('.tab').evaluateAll((tabs) => tabs.map((t) => (t as HTMLElement).dataset.sessionId));
  const topLevelIds = () =>
    page
      .locator('ul.session-list > li.session-item')
      .evaluateAll((items) => items.map((i) => (i as HTMLElement).dataset.sessionId));
  const post = async (path: string, body: unknown) => {
    const response = await api(base, path, { method: 'POST', token, body });
    expect(response.status, await response.clone().text()).toBeLessThan(300);
    return (await response.json()) as { session: { id: string } };
  };

  beforeAll(async () => {
    // A fixed port: the page must find the daemon again where it was after the restart.
    daemon = await startTestDaemon({ serveArgs: ['--port', String(await freePort()), '--resume-lost'] });
    writeRuntimes(daemon.stateDir, { scripted: scriptedRuntime() });
    base = daemon.httpUrl!;
    token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1300, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${base}/#token=${token}`);
    await page.locator('.spawn-button').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await daemon?.dispose();
  });

  let first: string;
  let second: string;

  it('a session restarted elsewhere replaces the old one: its tab and pane follow, the old one is listed under it, collapsed', async () => {
    ({ id: first } = (
      await post('/api/sessions', { runtime: 'scripted', name: 'alpha', cwd: '/tmp' })
    ).session);
    await item(first).click();
    await waitForText(page, first, /^ready>/m, "the agent's prompt");

    ({ id: second } = (await post(`/api/sessions/${first}/restart`, {})).session);
    await expect.poll(tabIds).toEqual([second]);
    await waitForText(page, second, /\(resumed\)/, 'the resumed agent', 15_000);
    expect(await pane(page, first).count()).toBe(0);
    expect(await tab(second).getAttribute('aria-selected')).toBe('true');

    await expect.poll(topLevelIds).toContain(second);
    expect(await topLevelIds()).not.toContain(first);
    const earlier = item(second).locator('details.session-earlier');
    expect(await earlier.locator('summary').textContent()).toBe('1 earlier session');
    const old = earlier.locator(`.session-item[data-session-id="${first}"]`);
    expect(await old.isVisible()).toBe(false);
    await earlier.locator('summary').click();
    expect(await old.isVisible()).toBe(true);

    // Opened on purpose, the old session stays open beside the new one.
    await old.click();
    await expect.poll(tabIds).toEqual([second, first]);
    expect(await tab(first).getAttribute('aria-selected')).toBe('true');
  });

  it('after kill -9 and serve --resume-lost, the page follows to the relaunched session; the inbox says it was lost', async () => {
    await item(second).locator(':scope > .session-head .session-name').click();
    await expect.poll(() => tab(second).getAttribute('aria-selected')).toBe('true');
    await daemon.crash();
    await daemon.restart();
    const relaunched = await waitFor(
      async () => {
        const response = await api(base, '/api/sessions', { token });
        const { sessions } = (await response.json()) as { sessions: { id: string; resumed_from: string }[] };
        return sessions.find((session) => session.resumed_from === second)?.id;
      },
      'the relaunched session',
      15_000,
    );
    // The relaunched session takes the lost one's tab; the old one opened on purpose stays.
    await expect.poll(tabIds, { timeout: 20_000 }).toEqual([relaunched, first]);
    await waitForText(page, relaunched, /\(resumed\)/, 'the relaunched agent', 15_000);
    await expect.poll(topLevelIds).toContain(relaunched);
    expect(await topLevelIds()).not.toContain(second);
    expect(await item(relaunched).locator('details.session-earlier summary').textContent()).toBe(
      '2 earlier sessions',
    );

    const entry = page.locator(`.inbox-entry[data-session-id="${second}"][data-kind="lost"]`);
    await entry.waitFor({ state: 'attached', timeout: 20_000 });
    expect(await entry.locator('.inbox-text').textContent()).toContain(`relaunched as ${relaunched}`);
    expect(await entry.locator('.inbox-kind').textContent()).toBe('was lost');
  });

  it('when only tower serve is killed (-9), an open terminal resumes from its offset: what was written meanwhile, once', async () => {
    const ticks = 300;
    const { id } = (
      await post('/api/sessions', {
        command: '/bin/sh',
        args: ['-c', `for i in $(seq 1 ${ticks}); do echo tick-$i; sleep 0.02; done; exec cat`],
        cwd: '/tmp',
        rows: 10,
      })
    ).session;
    await openSession(page, id);
    await waitForText(page, id, /tick-5\b/, 'the first ticks');
    await daemon.stopControlPlane(true);
    // The session goes on in the host meanwhile; the page reconnects once serve is back on its port.
    await daemon.restart();
    await waitForText(page, id, new RegExp(`tick-${ticks}\\b`), 'the last tick', 30_000);
    const seen = (await terminalText(page, id)).match(/tick-\d+/g) ?? [];
    expect(seen).toEqual(Array.from({ length: ticks }, (_, i) => `tick-${i + 1}`));
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
