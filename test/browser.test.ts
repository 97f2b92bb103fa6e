/**
 * The web workspace in a real browser: Debian's Chromium driven by playwright-core, against the real
 * daemon (bin/tower.js serve) and its HTTP server, with real shells on real PTYs.
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CuttableProxy,
  failWithoutChromium,
  freePort,
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
import { type TestDaemon, TOWER_BIN } from './support/daemon.js';

failWithoutChromium('web workspace');

describe.runIf(HAVE_CHROMIUM)('web workspace in Chromium', () => {
  let web: WebDaemon;
  let daemon: TestDaemon;
  let browser: Browser;
  let base: string;
  let token: string;
  /** The admin's browser profile: cookie and localStorage shared by its pages. */
  let admin: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const proxy = new CuttableProxy();

  const api = <T>(method: string, path: string, body?: unknown) => web.api<T>(method, path, body);
  const screenText = async (id: string) =>
    (await api<{ text: string }>('GET', `/api/sessions/${id}/screen`)).text;
  const spawnViaApi = (name: string) => web.spawnShell(name);

  const newPage = async (context: BrowserContext) => {
    const created = await context.newPage();
    created.on('pageerror', (error) => pageErrors.push(error.message));
    return created;
  };
  const tabOrder = (p: Page) =>
    p.locator('.tab').evaluateAll((tabs) => tabs.map((tab) => (tab as HTMLElement).dataset.sessionId));
  /**
   * Drags one tab onto the left edge of another with the mouse. Playwright can lose the start of an
   * HTML5 drag on a loaded machine (CI did once: the order never changed), so a drag that moved
   * nothing is tried again; the order is what the test then checks.
   */
  const dragTab = async (p: Page, id: string, onto: string, midway?: () => Promise<void>) => {
    /** Where a tab is, once it is drawn (boundingBox does not wait: null while the strip redraws). */
    const boxOf = async (of: string) => {
      let box: Awaited<ReturnType<Locator['boundingBox']>> = null;
      await expect
        .poll(async () => (box = await p.locator(`.tab[data-session-id="${of}"]`).boundingBox()), {
          timeout: 10_000,
        })
        .not.toBeNull();
      return box!;
    };
    const before = await tabOrder(p);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const from = await boxOf(id);
      await p.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
      await p.mouse.down();
      await p.mouse.move(from.x + from.width / 2 - 12, from.y + from.height / 2, { steps: 3 });
      await midway?.();
      const to = await boxOf(onto);
      await p.mouse.move(to.x + 4, to.y + to.height / 2, { steps: 5 });
      await p.mouse.up();
      const moved = await expect
        .poll(() => tabOrder(p), { timeout: 3000 })
        .not.toEqual(before)
        .then(
          () => true,
          () => false,
        );
      if (moved) return;
    }
  };

  beforeAll(async () => {
    // A fixed port, so the page can reconnect to the daemon after it restarts (last test), and a
    // proxy in front of it that can cut connections (its origin must be allowed).
    const proxyPort = await proxy.listen();
    web = await startWebDaemon({
      serveArgs: ['--port', String(await freePort()), '--allow-origin', `http://127.0.0.1:${proxyPort}`],
    });
    ({ daemon, base, token } = web);
    proxy.target = Number(new URL(base).port);
    browser = await launchChromium();
    admin = await browser.newContext({
      viewport: { width: 1400, height: 820 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    page = await newPage(admin);
  });

  afterAll(async () => {
    proxy.close();
    await browser?.close();
    await daemon?.dispose();
  });

  it('serves the workspace page with a strict CSP', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(await response.text()).toContain('<div id="app">');
  });

  it('without a token, says to open the login URL', async () => {
    const context = await browser.newContext();
    const stranger = await newPage(context);
    await stranger.goto(`${base}/`);
    await expect
      .poll(() => stranger.locator('[data-testid="login-help"]').textContent())
      .toMatch(/open the login URL printed by tower serve/i);
    await context.close();
  });

  it('logs in from the token URL: fragment dropped, HttpOnly cookie set', async () => {
    await page.goto(`${base}/#token=${token}`);
    await page.locator('.spawn-button').waitFor();
    expect(page.url()).toBe(`${base}/`);
    const cookies = await admin.cookies(base);
    const session = cookies.find((cookie) => cookie.name.startsWith('tower_session'));
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    expect(await page.evaluate(() => document.cookie)).toBe('');
  });

  let alpha: string;

  it('spawns a shell from the UI, and reports a bad cwd inside the dialog', async () => {
    await page.locator('.spawn-button').click();
    await page.locator('dialog input[name=cwd]').fill('/no/such/dir');
    await page.locator('dialog button[type=submit]').click();
    await expect.poll(() => page.locator('dialog .form-error').textContent()).toMatch(/no\/such\/dir/);
    expect(await page.locator('dialog').evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);

    await page.locator('dialog input[name=cwd]').fill('');
    await page.locator('dialog input[name=name]').fill('alpha');
    await page.locator('dialog button[type=submit]').click();
    const item = page.locator('.session-item', { hasText: 'alpha' });
    await item.waitFor();
    alpha = (await item.getAttribute('data-session-id'))!;
    // A shell: its badge shows what it does (idle at its prompt), from the live event stream.
    await expect.poll(() => item.locator('.badge').textContent()).toBe('idle');
    expect(await item.locator('.runtime-tag').textContent()).toBe('shell');
    await pane(page, alpha).locator('.xterm').waitFor();
  });

  it('types into the terminal and shows the output', async () => {
    await waitForText(page, alpha, /\S/, 'a prompt');
    await typeInto(page, alpha, 'echo hi-$((1+1))\n');
    await waitForText(page, alpha, /^hi-2$/m, 'the output of echo');
  });

  it('pastes with Ctrl+Shift+V, finds with Ctrl+Shift+F, copies with Ctrl+Shift+C', async () => {
    await page.evaluate(() => navigator.clipboard.writeText('echo clip-$((4+4))'));
    await pane(page, alpha).locator('.terminal-view').click();
    await page.keyboard.press('Control+Shift+V');
    await page.keyboard.press('Enter');
    await waitForText(page, alpha, /^clip-8$/m, 'the pasted command to run');

    await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
    const search = pane(page, alpha).locator('.search-input');
    const findAndCopy = async () => {
      await page.keyboard.press('Control+Shift+F');
      await search.fill('clip-8');
      await search.press('Enter');
      await expect.poll(() => pane(page, alpha).locator('.search-count').textContent()).toBe('1/1');
      await search.press('Escape');
      await page.keyboard.press('Control+Shift+C');
    };
    // Opening the find bar loads older output, which rebuilds the terminal; held back here, so the
    // rebuild lands after the bar is closed: the match is still selected afterwards.
    let served = 0;
    const older = /\/api\/sessions\/[^/]+\/output/;
    await page.route(older, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue();
      served += 1;
    });
    try {
      await findAndCopy();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('clip-8');
      await expect.poll(() => served, { timeout: 15_000 }).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
      await page.keyboard.press('Control+Shift+C');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('clip-8');
    } finally {
      await page.unroute(older);
    }
  });

  it('does not answer terminal queries a second time (the daemon answers them)', async () => {
    await typeInto(
      page,
      alpha,
      `printf '\\033[c'; read -rs -d c -t 2 a; read -rs -d c -t 1 b; echo "da-first=\${#a} da-second=\${#b}"\n`,
    );
    await waitForText(page, alpha, /^da-first=\d+ da-second=\d+$/m, 'the query result');
    const text = await terminalText(page, alpha);
    expect(text).toMatch(/^da-first=[1-9]\d* da-second=0$/m);
  });

  it('shows the same screen at once after a reload (snapshot)', async () => {
    const before = await screenText(alpha);
    expect(before).toContain('hi-2');
    await page.reload();
    const started = Date.now();
    await pane(page, alpha).locator('.xterm').waitFor();
    await waitForText(page, alpha, /^hi-2$/m, 'the screen after reload', 3000);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await tabOrder(page)).toEqual([alpha]);
  });

  it('two pages typing into one session both see both inputs', async () => {
    const second = await newPage(admin);
    await second.goto(`${base}/`);
    await openSession(second, alpha);
    await typeInto(page, alpha, 'echo from-$((10+1))\n');
    await waitForText(second, alpha, /^from-11$/m, 'page 1 input, seen by page 2');
    await typeInto(second, alpha, 'echo from-$((20+2))\n');
    await waitForText(page, alpha, /^from-22$/m, 'page 2 input, seen by page 1');
    await waitForText(page, alpha, /^from-11$/m, 'page 1 input, seen by page 1');
    await waitForText(second, alpha, /^from-22$/m, 'page 2 input, seen by page 2');
    await second.close();
  });

  let beta: string;

  it('shows two sessions side by side in a split view (screenshot)', async () => {
    beta = await spawnViaApi('beta');
    await page.locator('.layout-button[data-layout="2"]').click();
    await page.locator(`.session-item[data-session-id="${beta}"]`).waitFor();
    await openSession(page, beta);
    expect(await page.locator('.pane').count()).toBe(2);
    await waitForText(page, beta, /\S/, 'a prompt in beta');
    await typeInto(
      page,
      beta,
      'cd "$(mktemp -d)" && mkdir src test docs && touch README.md package.json && ' +
        'ls -F --color=always && echo "tower split view: $((6*7))"\n',
    );
    await waitForText(page, beta, /tower split view: 42/, 'beta output');
    await typeInto(page, alpha, 'clear; uname -sm; echo hi-$((1+1)); seq 3\n');
    await waitForText(page, alpha, /^3$/m, 'alpha output');
    // Let both panes settle on their fitted size before the picture.
    await page.waitForTimeout(300);
    // A picture of a failure to look at; the README's picture (docs/workspace.png) shows real agents.
    const picture = await page.screenshot({ path: join(tmpdir(), 'tower-split-view.png') });
    expect(picture.length).toBeGreaterThan(10_000);
  });

  it('a session that exits adds an inbox entry and a count in the title', async () => {
    const gamma = await spawnViaApi('gamma');
    await page.locator(`.session-item[data-session-id="${gamma}"]`).waitFor();
    await openSession(page, gamma);
    await waitForText(page, gamma, /\S/, 'a prompt in gamma');
    await typeInto(page, gamma, 'exit 3\n');
    await page.locator(`.inbox-entry[data-session-id="${gamma}"]`).waitFor({ state: 'attached' });
    await expect.poll(() => page.title()).toBe('(1) Tower');
    await expect.poll(() => page.locator('.inbox-button .count').textContent()).toBe('1');
    await expect
      .poll(() => page.locator(`.session-item[data-session-id="${gamma}"] .badge`).textContent())
      .toBe('exited (3)');
    await page.locator('.inbox-button').click();
    await expect.poll(() => page.title()).toBe('Tower');
    await expect(page.locator(`.inbox-entry[data-session-id="${gamma}"]`).textContent()).resolves.toContain(
      'gamma',
    );
    await page.locator('.inbox-button').click();
  });

  it('a viewer cannot type: input ignored, "view only" shown', async () => {
    const viewerToken = execFileSync(
      process.execPath,
      [TOWER_BIN, '--state-dir', daemon.stateDir, 'token', '--viewer'],
      {
        encoding: 'utf8',
      },
    ).trim();
    const context = await browser.newContext({ viewport: { width: 1200, height: 700 } });
    const viewer = await newPage(context);
    await viewer.goto(`${base}/#token=${viewerToken}`);
    await viewer.locator('.session-list').waitFor();
    await viewer.locator(`.session-item[data-session-id="${alpha}"]`).waitFor();
    await openSession(viewer, alpha);
    await pane(viewer, alpha).locator('.view-only-marker').waitFor();
    expect(await viewer.locator('.spawn-button').isVisible()).toBe(false);
    expect(await viewer.locator('.composer').isVisible()).toBe(false);
    expect(await pane(viewer, alpha).locator('button[title^="hang up"]').count()).toBe(0);
    await waitForText(viewer, alpha, /^hi-2$/m, 'the screen, for the viewer');
    await typeInto(viewer, alpha, 'echo viewer-typed\n');
    await viewer.waitForTimeout(500);
    expect(await screenText(alpha)).not.toContain('viewer-typed');
    expect(await terminalText(viewer, alpha)).not.toContain('viewer-typed');
    await context.close();
  });

  it('sends a prompt from the composer to the checked sessions', async () => {
    await openSession(page, alpha); // in place of gamma
    const shown = await page
      .locator('.pane')
      .evaluateAll((panes) => panes.map((p) => (p as HTMLElement).dataset.sessionId));
    expect(shown.sort()).toEqual([alpha, beta].sort());
    await page.locator('.composer-button').click();
    await page.locator(`.composer-target input[data-session-id="${alpha}"]`).check();
    await page.locator(`.composer-target input[data-session-id="${beta}"]`).check();
    await page.locator('.composer-text').fill('echo composed-$((3*3))');
    await page.locator('.composer-text').press('Enter');
    await waitForText(page, alpha, /^composed-9$/m, 'the composed prompt in alpha');
    await waitForText(page, beta, /^composed-9$/m, 'the composed prompt in beta');
    // It went through the prompt queue (typed, submitted, verified), and the composer says so.
    for (const id of [alpha, beta]) {
      const states = async () => {
        const { prompts } = await api<{ prompts: Array<{ text: string; state: string }> }>(
          'GET',
          `/api/sessions/${id}/prompts`,
        );
        return prompts.filter((p) => p.text === 'echo composed-$((3*3))').map((p) => p.state);
      };
      await expect.poll(states).toEqual(['delivered']);
    }
    await expect
      .poll(() => page.locator('.composer-queue .prompt-item .prompt-state').allTextContents())
      .toEqual(['delivered', 'delivered']);
    await page.locator('.composer-button').click();
  });

  it('on a phone-sized screen: one terminal, sessions in a drawer, the composer as main input', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 780 },
      isMobile: true,
      hasTouch: true,
    });
    const phone = await newPage(context);
    await phone.goto(`${base}/#token=${token}`);
    await phone.locator('.tabbar').waitFor();
    expect(await phone.locator('.composer-text').isVisible()).toBe(true);
    expect(await phone.locator('.layouts').isVisible()).toBe(false);
    await phone.locator('.menu-button').click();
    await phone.locator(`.session-item[data-session-id="${alpha}"]`).click();
    await pane(phone, alpha).locator('.xterm').waitFor();
    await phone.locator('.menu-button').click();
    await phone.locator(`.session-item[data-session-id="${beta}"]`).click();
    await pane(phone, beta).locator('.xterm').waitFor();
    expect(await phone.locator('.pane').count()).toBe(1);
    await phone.locator('.composer-text').fill('echo from-the-phone');
    await phone.locator('.composer-send').click();
    await waitForText(phone, beta, /^from-the-phone$/m, 'the phone prompt');
    await context.close();
  });

  it('drags a tab to a new place; the order survives a reload', async () => {
    const before = await tabOrder(page);
    expect(before).toHaveLength(3);
    const [first, , last] = before as [string, string, string];
    await dragTab(page, last, first);
    const expected = [last, ...before.slice(0, 2)];
    await expect.poll(() => tabOrder(page)).toEqual(expected);
    await page.reload();
    await page.locator('.tab').first().waitFor();
    expect(await tabOrder(page)).toEqual(expected);
  });

  it('a tab whose session changes while it is dragged still lands where it is dropped', async () => {
    const [first, second, third] = (await tabOrder(page)) as [string, string, string];
    await dragTab(page, third, first, async () => {
      // A change the tab strip draws (here a new name) arrives mid-drag, as a status change would.
      const client = await daemon.connect();
      await client.rename(third, 'renamed-mid-drag');
      client.end();
      await page
        .locator(`.session-item[data-session-id="${third}"]`, { hasText: 'renamed-mid-drag' })
        .waitFor();
    });
    await expect.poll(() => tabOrder(page)).toEqual([third, first, second]);
    await expect
      .poll(() => page.locator(`.tab[data-session-id="${third}"]`).textContent())
      .toContain('renamed-mid-drag');
  });

  it('after a dropped connection: "reconnecting…", then output missed and input typed meanwhile arrive', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
    const remote = await newPage(context);
    await remote.goto(`http://127.0.0.1:${proxy.port}/#token=${token}`);
    await remote.locator(`.session-item[data-session-id="${beta}"]`).click();
    await waitForText(remote, beta, /\S/, 'beta through the proxy');
    await typeInto(remote, beta, 'clear; sleep 1; echo late-$((1+2))\n');
    await remote.waitForTimeout(200);
    proxy.cut();
    const overlay = pane(remote, beta).locator('.terminal-overlay');
    await overlay.waitFor({ state: 'visible' });
    expect(await overlay.textContent()).toContain('reconnecting…');
    await remote.keyboard.type('echo typed-$((6*7))\n');
    await remote.waitForTimeout(1200); // the late output is produced while nobody is connected
    proxy.restore();
    await overlay.waitFor({ state: 'hidden', timeout: 20_000 });
    await waitForText(remote, beta, /^late-3$/m, 'output made while disconnected');
    await waitForText(remote, beta, /^typed-42$/m, 'input typed while disconnected');
    const screen = await screenText(beta);
    expect(screen.match(/^typed-42$/gm)).toHaveLength(1);
    await context.close();
  });

  it('shows "reconnecting…" while the server is gone, then resumes where it was', async () => {
    await openSession(page, alpha);
    await waitForText(page, alpha, /^hi-2$/m, 'alpha before the crash');
    await daemon.crash();
    const overlay = pane(page, alpha).locator('.terminal-overlay');
    await overlay.waitFor({ state: 'visible' });
    expect(await overlay.textContent()).toContain('reconnecting…');
    await daemon.restart();
    await overlay.waitFor({ state: 'hidden', timeout: 20_000 });
    // The shell died with the daemon (kill -9): the session is lost, its screen still there.
    await expect
      .poll(() => page.locator(`.session-item[data-session-id="${alpha}"] .badge`).textContent(), {
        timeout: 15_000,
      })
      .toBe('lost');
    expect(await terminalText(page, alpha)).toMatch(/^hi-2$/m);
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
