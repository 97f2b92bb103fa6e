/**
 * Tabs of the open sessions, in an order the user sets by dragging (HTML5 drag and drop; the order
 * persists with the store), and the layout buttons of the split view (1 to 4 terminals).
 */
import { h, icon, layoutIcon } from './dom.js';
import { sessionState, sessionTitle, statusDot } from './status-badge.js';
import type { Layout, Store } from './store.js';

const DRAG_TYPE = 'application/x-tower-tab';

export interface TabActions {
  open(id: string): void;
  close(id: string): void;
}

export class Tabs {
  readonly element: HTMLElement;
  private readonly strip: HTMLElement;
  private readonly layouts: HTMLElement;
  private dragging: string | null = null;
  private drawn = '';

  constructor(
    private readonly store: Store,
    private readonly actions: TabActions,
    extra: HTMLElement[],
  ) {
    this.strip = h('ul.tabs', {
      role: 'tablist',
      ondragover: (event: DragEvent) => this.allowDrop(event),
      ondrop: (event: DragEvent) => this.dropAtEnd(event),
    });
    this.layouts = h('div.layouts', { role: 'group', 'aria-label': 'split view' });
    this.element = h('div.tabbar', null, ...extra, this.strip, this.layouts);
    store.subscribe(() => this.render());
    this.render();
  }

  render(): void {
    const visible = new Set(this.store.panes);
    const key = JSON.stringify([
      this.store.tabs.map((id) => {
        const session = this.store.sessions.get(id);
        return [id, session?.name, session && sessionState(session), session?.runtime, this.store.queued(id)];
      }),
      [...visible],
      this.store.focused,
      this.store.layout,
    ]);
    if (key === this.drawn) return;
    this.drawn = key;
    this.strip.replaceChildren(
      ...this.store.tabs.map((id) => {
        const session = this.store.sessions.get(id);
        const state = session ? sessionState(session) : 'unknown';
        const queued = this.store.queued(id);
        const classes = `${visible.has(id) ? '.shown' : ''}${this.store.focused === id ? '.focused' : ''}`;
        return h(
          `li.tab${classes}`,
          {
            role: 'tab',
            draggable: 'true',
            'aria-selected': String(this.store.focused === id),
            dataset: { sessionId: id, state },
            title: session
              ? `${sessionTitle(session, id)} — ${session.runtime ?? session.shell}, ${state.replace(/_/g, ' ')}` +
                `${queued > 0 ? `, ${queued} queued` : ''} — ${session.cwd}`
              : id,
            onclick: () => this.actions.open(id),
            onauxclick: (event: MouseEvent) => event.button === 1 && this.actions.close(id),
            ondragstart: (event: DragEvent) => this.dragStart(event, id),
            ondragover: (event: DragEvent) => this.dragOver(event),
            ondragleave: (event: DragEvent) =>
              (event.currentTarget as HTMLElement).classList.remove('drop-before', 'drop-after'),
            ondrop: (event: DragEvent) => this.drop(event, id),
            ondragend: () => this.dragEnd(),
          },
          statusDot(state),
          h('span.tab-title', null, sessionTitle(session, id)),
          queued > 0 ? h('span.tab-queue', { title: `${queued} queued` }, String(queued)) : null,
          h(
            'button.tab-close',
            {
              type: 'button',
              title: 'close tab (the session keeps running)',
              draggable: 'false',
              onclick: (event: Event) => {
                event.stopPropagation();
                this.actions.close(id);
              },
            },
            icon('close'),
          ),
        );
      }),
    );
    this.layouts.replaceChildren(
      ...([1, 2, 3, 4] as Layout[]).map((n) =>
        h(
          'button.icon-button.layout-button',
          {
            type: 'button',
            title: n === 1 ? 'one terminal' : `${n} terminals side by side`,
            'aria-pressed': String(this.store.layout === n),
            dataset: { layout: String(n) },
            onclick: () => this.store.setLayout(n),
          },
          layoutIcon(n),
        ),
      ),
    );
  }

  private dragStart(event: DragEvent, id: string): void {
    this.dragging = id;
    event.dataTransfer?.setData(DRAG_TYPE, id);
    event.dataTransfer?.setData('text/plain', sessionTitle(this.store.sessions.get(id), id));
    if (event.dataTransfer) event.dataTransfer.effectAllowed = 'move';
    (event.currentTarget as HTMLElement).classList.add('dragging');
  }

  /** Where a drop on this tab would go: before it if over its left half, else after it. */
  private side(event: DragEvent): 'before' | 'after' {
    const rect = (event.currentTarget as HTMLElement).getBoundingClientRect();
    return event.clientX < rect.left + rect.width / 2 ? 'before' : 'after';
  }

  private dragOver(event: DragEvent): void {
    if (this.dragging === null) return;
    event.preventDefault();
    event.stopPropagation();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
    const side = this.side(event);
    const target = event.currentTarget as HTMLElement;
    target.classList.toggle('drop-before', side === 'before');
    target.classList.toggle('drop-after', side === 'after');
  }

  private drop(event: DragEvent, targetId: string): void {
    const id = this.dragging;
    if (id === null) return;
    event.preventDefault();
    event.stopPropagation();
    const side = this.side(event);
    this.dragEnd();
    if (id === targetId) return;
    const others = this.store.tabs.filter((tab) => tab !== id);
    this.store.moveTab(id, others.indexOf(targetId) + (side === 'after' ? 1 : 0));
  }

  private allowDrop(event: DragEvent): void {
    if (this.dragging !== null) event.preventDefault();
  }

  private dropAtEnd(event: DragEvent): void {
    const id = this.dragging;
    if (id === null) return;
    event.preventDefault();
    this.dragEnd();
    this.store.moveTab(id, this.store.tabs.length);
  }

  private dragEnd(): void {
    this.dragging = null;
    for (const tab of this.strip.querySelectorAll('.dragging, .drop-before, .drop-after')) {
      tab.classList.remove('dragging', 'drop-before', 'drop-after');
    }
  }
}
