/**
 * The terminal stays readable whatever WebGL does (real Chromium, real daemon, a real shell), with
 * WebGL from SwiftShader, Chromium's software renderer, at device scale 2: when the WebGL context
 * is lost, or WebGL takes the draw calls and draws nothing, the terminal falls back to xterm's DOM
 * renderer. "Readable" is judged on a screenshot: the row of a known text has glyph pixels.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  failWithoutChromium,
  HAVE_CHROMIUM,
  launchChromium,
  openSession,
  pane,
  startWebDaemon,
  typeInto,
  type WebDaemon,
  waitForText,
} from './support/browser.js';
import { waitFor } from './support/daemon.js';

failWithoutChromium('terminal renderer');

const SOFTWARE_WEBGL_AT_SCALE_2 = [
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--force-device-scale-factor=2',
];

/** A GPU driver that accepts every draw call and draws nothing. */
const DRAW_NOTHING = `
  for (const proto of [WebGL2RenderingContext.prototype, WebGLRenderingContext.prototype]) {
    for (const name of ['drawArrays', 'drawElements', 'drawArraysInstanced', 'drawElementsInstanced']) {
      if (name in proto) proto[name] = function () {};
    }
  }
`;

describe.runIf(HAVE_CHROMIUM)('terminal renderer in Chromium with software WebGL at scale 2', () => {
  let web: WebDaemon;
  let browser: Browser;
  let decoder: Page;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  const renderer = (page: Page, id: string) =>
    pane(page, id).locator('.terminal-view').getAttribute('data-renderer');

  /** Pixels brighter than the dark background in the screen row that holds `text`. */
  async function inkOnRow(page: Page, id: string, text: string): Promise<number> {
    const clip = await pane(page, id)
      .locator('.terminal-view')
      .evaluate((element, wanted) => {
        const term = (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal;
        const buffer = term.buffer.active;
        let row = -1;
        for (let y = 0; y < term.rows; y++)
          if (buffer.getLine(buffer.viewportY + y)?.translateToString(true) === wanted) row = y;
        if (row < 0) return null;
        const screen = element.querySelector('.xterm-screen')!.getBoundingClientRect();
        const cellWidth = screen.width / term.cols;
        const cellHeight = screen.height / term.rows;
        return {
          x: screen.left,
          y: screen.top + row * cellHeight,
          width: cellWidth * wanted.length,
          height: cellHeight,
        };
      }, text);
    if (!clip) return 0;
    const png = (await page.screenshot({ clip })).toString('base64');
    return decoder.evaluate(async (data) => {
      const image = new Image();
      image.src = `data:image/png;base64,${data}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let bright = 0;
      for (let i = 0; i < pixels.length; i += 4)
        if (pixels[i]! + pixels[i + 1]! + pixels[i + 2]! > 300) bright++;
      return bright;
    }, png);
  }

  const readable = (page: Page, id: string, text: string) =>
    waitFor(async () => (await inkOnRow(page, id, text)) > 20, `"${text}" drawn on screen`);

  async function openTerminal(initScript?: string): Promise<{ page: Page; id: string }> {
    const context = await browser.newContext({
      viewport: { width: 1000, height: 640 },
      deviceScaleFactor: 2,
    });
    contexts.push(context);
    if (initScript) await context.addInitScript(initScript);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const id = await web.spawnShell(`renderer-${contexts.length}`);
    await page.goto(`${web.base}/#token=${web.token}`);
    await page.locator(`.session-item[data-session-id="${id}"]`).waitFor();
    await openSession(page, id);
    await waitForText(page, id, /\S/, 'a prompt');
    await typeInto(page, id, 'echo drawn-$((40+2))\n');
    await waitForText(page, id, /^drawn-42$/m, 'the echo');
    return { page, id };
  }

  beforeAll(async () => {
    web = await startWebDaemon();
    browser = await launchChromium(SOFTWARE_WEBGL_AT_SCALE_2);
    decoder = await browser.newPage();
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await web?.daemon.dispose();
  });

  it('draws the text with software WebGL at device scale 2', async () => {
    const { page, id } = await openTerminal();
    await readable(page, id, 'drawn-42');
    expect(await renderer(page, id)).toBe('webgl'); // the check found its pixels: no needless fallback
  });

  it('a lost WebGL context: the DOM renderer takes over and the text stays readable', async () => {
    const { page, id } = await openTerminal();
    expect(await renderer(page, id)).toBe('webgl');
    const lost = await pane(page, id)
      .locator('.xterm-screen canvas')
      .evaluateAll((canvases) => {
        for (const canvas of canvases) {
          const gl = (canvas as HTMLCanvasElement).getContext('webgl2');
          const extension = gl?.getExtension('WEBGL_lose_context');
          if (extension) {
            extension.loseContext();
            return true;
          }
        }
        return false;
      });
    expect(lost).toBe(true);
    await waitFor(async () => (await renderer(page, id)) === 'dom', 'the DOM renderer');
    await readable(page, id, 'drawn-42');
    await typeInto(page, id, 'echo after-$((6*7))\n');
    await waitForText(page, id, /^after-42$/m, 'output after the loss');
    await readable(page, id, 'after-42');
  });

  it('WebGL that draws nothing: the DOM renderer takes over and the text is readable', async () => {
    const { page, id } = await openTerminal(DRAW_NOTHING);
    await waitFor(async () => (await renderer(page, id)) === 'dom', 'the DOM renderer');
    await readable(page, id, 'drawn-42');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
