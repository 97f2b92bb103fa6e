/**
 * WebGL when it draws, else xterm's DOM renderer.
 *
 * WebGL can fail without throwing: the context is lost (a GPU reset, too many contexts), or a
 * driver takes every draw call and draws nothing (seen with software renderers at device scale 2).
 * Both leave a blank terminal, so:
 * - a lost context falls back at once (xterm itself waits 3 s for a restore, drawing nothing);
 * - after the first frame that shows text off the cursor's row, that row is read back from the
 *   canvas within the frame (before the browser presents it and clears the buffer); a row of one
 *   uniform colour means nothing was drawn, and the terminal falls back.
 * Disposing the WebGL addon returns xterm to its DOM renderer.
 */
import { WebglAddon } from '@xterm/addon-webgl';
import type { IDisposable, Terminal } from '@xterm/xterm';

export type Renderer = 'webgl' | 'dom';

/** Load WebGL if the browser has it; `fellBack` is called if it is later dropped for the DOM renderer. */
export function useWebgl(term: Terminal, fellBack: () => void): Renderer {
  let webgl: WebglAddon;
  try {
    webgl = new WebglAddon();
    term.loadAddon(webgl);
  } catch {
    return 'dom';
  }
  const canvas = webglCanvas(term);
  let check: IDisposable | undefined;
  let done = false;
  const fallBack = () => {
    if (done) return;
    done = true;
    check?.dispose();
    canvas?.removeEventListener('webglcontextlost', onLost);
    webgl.dispose();
    term.refresh(0, term.rows - 1);
    fellBack();
  };
  // Not within xterm's own handler of the event: after it.
  const onLost = () => setTimeout(fallBack);
  webgl.onContextLoss(fallBack);
  canvas?.addEventListener('webglcontextlost', onLost);
  const gl = canvas?.getContext('webgl2');
  if (canvas && gl) {
    check = term.onRender(() => {
      const drawn = drewText(term, canvas, gl);
      if (drawn === undefined) return;
      check?.dispose();
      if (!drawn) fallBack();
    });
  }
  return 'webgl';
}

/** The canvas the WebGL renderer draws into (xterm's link layer is a 2D canvas beside it). */
function webglCanvas(term: Terminal): HTMLCanvasElement | undefined {
  const canvases = term.element?.querySelectorAll<HTMLCanvasElement>('.xterm-screen canvas') ?? [];
  return Array.from(canvases).find((canvas) => canvas.getContext('webgl2') !== null);
}

/**
 * Whether the frame just rendered has pixels in a row that holds text, or undefined when no row
 * but the cursor's holds any yet. WebGL redraws every row each frame, so any row will do.
 */
function drewText(
  term: Terminal,
  canvas: HTMLCanvasElement,
  gl: WebGL2RenderingContext,
): boolean | undefined {
  const buffer = term.buffer.active;
  const cursorRow = buffer.baseY + buffer.cursorY - buffer.viewportY;
  for (let row = 0; row < term.rows; row++) {
    const text =
      row === cursorRow ? '' : (buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
    if (!/\S/.test(text)) continue;
    const rowHeight = Math.floor(canvas.height / term.rows);
    const width = Math.min(canvas.width, Math.ceil((canvas.width / term.cols) * text.length));
    if (rowHeight === 0 || width === 0) return undefined;
    const pixels = new Uint32Array(width * rowHeight);
    // WebGL counts rows from the bottom.
    const y = canvas.height - (row + 1) * rowHeight;
    gl.readPixels(0, y, width, rowHeight, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(pixels.buffer));
    return pixels.some((pixel) => pixel !== pixels[0]);
  }
  return undefined;
}
