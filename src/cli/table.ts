/**
 * Aligned columns under a header, two spaces apart, for the CLI's listings. Widths are counted in
 * terminal cells (a CJK character or an emoji takes two, a combining mark none). Given a width (the
 * terminal's), the columns named shrinkable are cut, widest first, with "…" until the table fits;
 * if that is not enough, the droppable columns go, in their order; lines never wrap.
 */
import { escapeControls } from './escape.js';

const segmenter = new Intl.Segmenter();
const ZERO_WIDTH = /^(?:\p{Mn}|\p{Me}|\p{Cf})+$/u;
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
// East Asian Wide and Fullwidth blocks (Unicode's EastAsianWidth.txt, W and F, in ranges).
const WIDE =
  /[\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6]|[\u{16fe0}-\u{18d08}\u{1b000}-\u{1b2ff}\u{1f200}-\u{1f2ff}\u{20000}-\u{3fffd}]/u;

function graphemeWidth(grapheme: string): number {
  if (ZERO_WIDTH.test(grapheme)) return 0;
  return EMOJI.test(grapheme) || WIDE.test(grapheme) ? 2 : 1;
}

/** How many terminal cells the text takes. */
export function cellWidth(text: string): number {
  // ASCII, the common case, needs no segmenting.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment);
  return width;
}

/** The text cut to at most `width` cells, ending with "…" when it was cut. */
export function truncateCells(text: string, width: number): string {
  if (cellWidth(text) <= width) return text;
  if (width <= 0) return '';
  let kept = '';
  let used = 0;
  for (const { segment } of segmenter.segment(text)) {
    const w = graphemeWidth(segment);
    if (used + w > width - 1) break;
    kept += segment;
    used += w;
  }
  return `${kept}…`;
}

export interface TableOptions {
  /** Fit the table to this many cells (a terminal's width); absent: every cell whole. */
  width?: number;
  /** Indexes of the columns that may be cut to fit (free text, never ids). */
  shrinkable?: number[];
  /** Indexes of the columns left out, in this order, when cutting is not enough. */
  droppable?: number[];
}

/** Columns never shrink below this, so a cut value still hints at what it was. */
const MIN_SHRUNK = 6;
const GAP = 2;

/** Each cell is escaped (it may hold program-controlled text), then the columns are laid out. */
export function formatColumns(header: string[], rows: string[][], options: TableOptions = {}): string {
  const cells = rows.map((row) => row.map((cell) => escapeControls(cell)));
  const widths = header.map((h, i) => Math.max(cellWidth(h), ...cells.map((row) => cellWidth(row[i] ?? ''))));
  const shown = header.map(() => true);
  const { width } = options;
  if (width !== undefined) {
    shrinkToFit(widths, shown, header, width, options.shrinkable ?? []);
    for (const column of options.droppable ?? []) {
      if (total(widths, shown) <= width) break;
      shown[column] = false;
      shrinkToFit(widths, shown, header, width, options.shrinkable ?? []);
    }
  }
  const line = (row: string[]) => {
    const text = row
      .flatMap((cell, i) => {
        if (!shown[i]) return [];
        const fitted = truncateCells(cell, widths[i]!);
        return [fitted + ' '.repeat(widths[i]! - cellWidth(fitted))];
      })
      .join(' '.repeat(GAP))
      .trimEnd();
    return width === undefined ? text : truncateCells(text, width);
  };
  return `${[header, ...cells].map(line).join('\n')}\n`;
}

function total(widths: number[], shown: boolean[]): number {
  const kept = widths.filter((_, i) => shown[i]);
  return kept.reduce((sum, w) => sum + w, 0) + GAP * (kept.length - 1);
}

/** Take one cell at a time from the widest shrinkable column until the line fits (or none can give). */
function shrinkToFit(
  widths: number[],
  shown: boolean[],
  header: string[],
  width: number,
  shrinkable: number[],
): void {
  let excess = total(widths, shown) - width;
  while (excess > 0) {
    let widest = -1;
    for (const i of shrinkable) {
      if (!shown[i]) continue;
      const floor = Math.max(MIN_SHRUNK, cellWidth(header[i]!));
      if (widths[i]! > floor && (widest === -1 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest === -1) return;
    widths[widest]! -= 1;
    excess -= 1;
  }
}
