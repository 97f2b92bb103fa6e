/**
 * Driving the web workspace in a real browser: Debian's Chromium through playwright-core, page
 * helpers that read xterm.js's buffer, and a TCP proxy that can cut connections.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, it } from 'vitest';
import { ROOT, startTestDaemon, type TestDaemon, waitFor } from './daemon.js';

export const CHROMIUM = '/usr/bin/chromium';
export const STRICT = process.env.TOWER_TEST_STRICT === '1';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const WEB_DIST = join(ROOT, 'web', 'dist', 'index.html');

if (!HAVE_CHROMIUM && !STRICT) {
  process.stderr.write(`browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)\n`);
}

/** Under TOWER_TEST_STRICT=1 a missing Chromium fails the suite instead of skipping it. */
export function failWithoutChromium(suite: string): void {
  describe.runIf(!HAVE_CHROMIUM && STRICT)(`${suite} (strict mode)`, () => {
    it('needs Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test-setup.sh does it)`);
    });
  });
}

/** `extraArgs`: more Chromium switches (a GPU setup, a device scale). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(WEB_DIST)) throw new Error('web/dist is missing: run npm run build (or npm run build:web)');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/** The real daemon with its web server, and its API called with the admin token as Bearer. */
export interface WebDaemon {
  daemon: TestDaemon;
  base: string;
  token: string;
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** A shell started through the API; its id. */
  spawnShell(name: string): Promise<string>;
}

export async function startWebDaemon(options: { serveArgs?: string[] } = {}): Promise<WebDaemon> {
  const daemon = await startTestDaemon(options);
  if (!daemon.httpUrl) throw new Error('the daemon printed no web workspace URL');
  const base = daemon.httpUrl;
  const token = readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  const spawnShell = async (name: string) =>
    (await api<{ session: { id: string } }>('POST', '/api/sessions', { name })).session.id;
  return { daemon, base, token, api, spawnShell };
}

/** A page of `context` logged in to the workspace with the token; its errors go to `errors`. */
export async function openWorkspace(
  context: BrowserContext,
  base: string,
  token: string,
  errors: string[],
): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${base}/#token=${token}`);
  await page.locator('.session-list').waitFor({ state: 'attached' });
  return page;
}

export const pane = (page: Page, id: string) => page.locator(`.pane[data-session-id="${id}"]`);

/** The terminal's buffer as text (the WebGL renderer leaves none in the DOM). */
export const terminalText = (page: Page, id: string) =>
  pane(page, id)
    .locator('.terminal-view')
    .evaluate((element) => (element as HTMLElement & { terminalText(): string }).terminalText(), undefined, {
      timeout: 2000,
    });

export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Where a terminal is on the page: its pane's visible area, the whole screen, the cursor's cell. */
export interface TerminalGeometry {
  cols: number;
  rows: number;
  fontSize: number;
  renderer: string;
  /** The terminal's area in the pane (what is not clipped). */
  view: Box;
  /** The terminal screen: every row and column. */
  screen: Box;
  cursor: Box;
}

export const terminalGeometry = (page: Page, id: string): Promise<TerminalGeometry> =>
  pane(page, id)
    .locator('.terminal-view')
    .evaluate((element) => {
      const term = (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal;
      const box = ({ left, top, right, bottom }: DOMRect) => ({ left, top, right, bottom });
      const screen = element.querySelector('.xterm-screen')!.getBoundingClientRect();
      const buffer = term.buffer.active;
      const cellWidth = screen.width / term.cols;
      const cellHeight = screen.height / term.rows;
      const left = screen.left + buffer.cursorX * cellWidth;
      const top = screen.top + (buffer.baseY + buffer.cursorY - buffer.viewportY) * cellHeight;
      return {
        cols: term.cols,
        rows: term.rows,
        fontSize: term.options.fontSize ?? 0,
        renderer: (element as HTMLElement).dataset.renderer ?? '',
        view: box(element.getBoundingClientRect()),
        screen: box(screen),
        cursor: { left, top, right: left + cellWidth, bottom: top + cellHeight },
      };
    });

/** Whether `inner` lies within `outer` (to within half a pixel of rounding). */
export const inside = (inner: Box, outer: Box) =>
  inner.left >= outer.left - 0.5 &&
  inner.top >= outer.top - 0.5 &&
  inner.right <= outer.right + 0.5 &&
  inner.bottom <= outer.bottom + 0.5;

export const waitForText = (page: Page, id: string, pattern: RegExp, what: string, timeoutMs = 10_000) =>
  waitFor(
    async () => pattern.test(await terminalText(page, id).catch(() => '')),
    `${what} (${pattern})`,
    timeoutMs,
  );

export async function typeInto(page: Page, id: string, text: string): Promise<void> {
  await pane(page, id).locator('.terminal-view').click();
  await page.keyboard.type(text);
}

export async function openSession(page: Page, id: string): Promise<void> {
  await page.locator(`.session-item[data-session-id="${id}"]`).click();
  await pane(page, id).locator('.xterm').waitFor();
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A TCP proxy to the daemon's HTTP port that can drop every connection and refuse new ones. */
export class CuttableProxy {
  target = 0;
  port = 0;
  private blocked = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = createServer((client) => {
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  });

  listen(): Promise<number> {
    return new Promise((resolvePort) => {
      this.server.listen(0, '127.0.0.1', () => {
        const address = this.server.address();
        this.port = typeof address === 'object' && address ? address.port : 0;
        resolvePort(this.port);
      });
    });
  }

  cut(): void {
    this.blocked = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.blocked = false;
  }

  /**
   * The connections open now go silent and stay open: nothing more is forwarded either way, as when a
   * link dies without a reset (a middlebox forgot it, a cable pulled). New connections still pass.
   */
  silence(): void {
    for (const socket of this.sockets) {
      socket.unpipe();
      socket.pause();
    }
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}
