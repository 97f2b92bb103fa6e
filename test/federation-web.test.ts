/**
 * The web sidebar with peers, in Chromium against real Towers: sessions grouped by machine (this
 * Tower first, then each peer with its state), a peer that hangs shown offline, a peer's session
 * killed from the page through the local Tower.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failWithoutChromium, HAVE_CHROMIUM, launchChromium, openWorkspace } from './support/browser.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { putPeer, tokenOf } from './support/federation.js';
import { type FakePeer, hangingPeer } from './support/fleet.js';
import { apiJson } from './support/http.js';

failWithoutChromium('web sidebar with peers');

describe.runIf(HAVE_CHROMIUM)('the web sidebar with peers', () => {
  let a: TestDaemon;
  let b: TestDaemon;
  let hang: FakePeer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const ids: Record<string, string> = {};

  const spawn = async (daemon: TestDaemon, name: string) => {
    const { status, json } = await apiJson(daemon.httpUrl!, '/api/sessions', {
      method: 'POST',
      token: tokenOf(daemon),
      body: { command: '/bin/bash', args: ['--norc', '--noprofile'], name },
    });
    expect(status).toBe(201);
    return (json.session as { id: string }).id;
  };

  beforeAll(async () => {
    [a, b, hang] = await Promise.all([startTestDaemon(), startTestDaemon(), hangingPeer()]);
    putPeer(a.stateDir, 'bee', b.httpUrl!, tokenOf(b));
    putPeer(a.stateDir, 'stuck', hang.url, 'whatever');
    ids.a = await spawn(a, 'on-a');
    ids.b = await spawn(b, 'on-b');
    browser = await launchChromium();
    page = await openWorkspace(await browser.newContext(), a.httpUrl!, tokenOf(a), errors);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await hang?.close();
    await Promise.all([a?.dispose(), b?.dispose()]);
  });

  it('groups sessions by machine, this Tower first, each peer with its state', async () => {
    const rows = () =>
      page
        .locator('.session-list > li')
        .evaluateAll((items) =>
          items.map((item) =>
            item.classList.contains('machine-head')
              ? `# ${(item as HTMLElement).dataset.machine || 'local'} ${(item as HTMLElement).dataset.state}`
              : (item as HTMLElement).dataset.sessionId,
          ),
        );
    await waitFor(async () => (await rows()).length === 5, 'the grouped list', 15_000);
    expect(await rows()).toEqual(['# local local', ids.a, '# bee online', `bee/${ids.b}`, '# stuck offline']);
    const remote = page.locator(`.session-item[data-session-id="bee/${ids.b}"]`);
    await expect(remote.locator('.session-host').textContent()).resolves.toBe('bee');
    expect(errors).toEqual([]);
  });

  it("kills a peer's session from the page, through the local Tower", async () => {
    const remote = page.locator(`.session-item[data-session-id="bee/${ids.b}"]`);
    await remote.locator('button.danger').click();
    await page.locator('dialog.confirm-dialog button[value="confirm"]').click();
    await waitFor(
      async () => (await remote.getAttribute('data-status')) === 'exited',
      "the peer's session to show exited",
      15_000,
    );
    const { json } = await apiJson(b.httpUrl!, `/api/sessions/${ids.b}`, { token: tokenOf(b) });
    expect((json.session as { status: string }).status).toBe('exited');
  });
});
