/**
 * Showing a session that is laid out for another window: the whole screen, never a crop.
 *
 * The terminal is scaled down by its font size rather than by a CSS transform: xterm.js maps mouse
 * positions to cells with its own unscaled cell size, so under a transform a selection would land
 * on the wrong cells. Font sizes are quantized to device pixels, so the fit is checked against the
 * screen xterm actually laid out. Only below MIN_FONT_SIZE (a screen far too big for its pane)
 * does a transform shrink the rest, where nothing is readable enough to select anyway.
 */
import type { Terminal } from '@xterm/xterm';

const MIN_FONT_SIZE = 5;
/** xterm's scroll bar, left free on the right as the fit addon does for the owner. */
const SCROLLBAR_WIDTH = 14;
const MAX_ATTEMPTS = 12;

/** The terminal at `fontSize` with no transform: the size owner, or a screen that fits as it is. */
export function showNaturalSize(term: Terminal, fontSize: number): void {
  setFontSize(term, fontSize);
  if (term.element) term.element.style.transform = '';
}

/**
 * Shrink the terminal until its whole screen fits the element it is open in, from `fontSize`
 * down (it never grows past it). Returns the scale shown, 1 when the screen fits as it is.
 */
export function showWholeScreen(term: Terminal, fontSize: number): number {
  showNaturalSize(term, fontSize);
  const element = term.element;
  const host = element?.parentElement;
  const screen = element?.querySelector<HTMLElement>('.xterm-screen');
  if (!element || !host || !screen) return 1;
  const width = host.clientWidth - SCROLLBAR_WIDTH;
  const height = host.clientHeight;
  if (width <= 0 || height <= 0) return 1; // not laid out (hidden): fit when it shows
  const room = () => Math.min(width / screen.offsetWidth, height / screen.offsetHeight);
  let size = fontSize;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && room() < 1 && size > MIN_FONT_SIZE; attempt++) {
    // Aim at the proportional size, then step down in quarter pixels while rounding keeps it too big.
    size = Math.max(MIN_FONT_SIZE, Math.min(size - 0.25, Math.floor(size * room() * 4) / 4));
    setFontSize(term, size);
  }
  const rest = Math.min(1, room());
  element.style.transformOrigin = '0 0';
  element.style.transform = rest < 1 ? `scale(${rest})` : '';
  return (size / fontSize) * rest;
}

function setFontSize(term: Terminal, size: number): void {
  // xterm re-measures and lays the screen out again synchronously on this change.
  if (term.options.fontSize !== size) term.options.fontSize = size;
}
