/** A tiny element builder: h('div.pane', { onclick }, child, 'text'). No framework. */

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(
  spec: K | `${K}.${string}` | `${K}#${string}`,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const [head, ...classes] = spec.split('.');
  const [tag, id] = (head ?? 'div').split('#');
  const element = document.createElement(tag as K);
  if (id) element.id = id;
  if (classes.length > 0) element.className = classes.join(' ');
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value as EventListener);
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key in element && typeof value !== 'string') {
      (element as unknown as Record<string, unknown>)[key] = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function clear(element: Element): void {
  element.replaceChildren();
}

/** Inline SVG icons (24×24 viewBox, stroked), so nothing is fetched. */
const ICONS: Record<string, string> = {
  plus: 'M12 5v14M5 12h14',
  close: 'M6 6l12 12M18 6L6 18',
  kill: 'M12 3v9M6.3 7.5a8 8 0 1 0 11.4 0',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  inbox: 'M3 13l3-8h12l3 8v6H3zM3 13h5l1 3h6l1-3h5',
  send: 'M4 12l16-8-6 16-2-7z',
  menu: 'M4 6h16M4 12h16M4 18h16',
  search: 'M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM16 16l5 5',
  up: 'M6 15l6-6 6 6',
  down: 'M6 9l6 6 6-6',
  bell: 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0',
  composer: 'M4 5h16v10H8l-4 4z',
  restart: 'M4 12a8 8 0 1 0 2.3-5.6M4 4v4h4',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
};

export function icon(name: keyof typeof ICONS | string, label?: string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', label ? 'false' : 'true');
  if (label) svg.setAttribute('aria-label', label);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] ?? '');
  svg.appendChild(path);
  return svg;
}

/** Layout glyph: n panes drawn as rectangles. */
export function layoutIcon(panes: number): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  const rects: Array<[number, number, number, number]> =
    panes === 1
      ? [[3, 4, 18, 16]]
      : panes === 2
        ? [
            [3, 4, 8, 16],
            [13, 4, 8, 16],
          ]
        : panes === 3
          ? [
              [3, 4, 8, 16],
              [13, 4, 8, 7],
              [13, 13, 8, 7],
            ]
          : [
              [3, 4, 8, 7],
              [13, 4, 8, 7],
              [3, 13, 8, 7],
              [13, 13, 8, 7],
            ];
  for (const [x, y, w, hgt] of rects) {
    const rect = document.createElementNS(ns, 'rect');
    rect.setAttribute('x', String(x));
    rect.setAttribute('y', String(y));
    rect.setAttribute('width', String(w));
    rect.setAttribute('height', String(hgt));
    rect.setAttribute('rx', '1.5');
    svg.appendChild(rect);
  }
  return svg;
}
