/**
 * The workspace's state: the sessions the server reported, their prompts, the runtimes (for their
 * answer keys), the open tabs (in the user's order), which of them are shown in the split view, and
 * the layout. Tabs, panes and layout persist in localStorage, so a reload (or another window) comes
 * back to the same arrangement. A session restarted (here, elsewhere, or by serve --resume-lost) is
 * replaced by the new one, whose `resumed_from` names it: its tab and pane follow, unless the user
 * opened it after it was replaced.
 */
import type { AnswerKeys, PeerStatus, PromptInfo, Role, RuntimeInfo, SessionInfo } from './types.js';

export type Layout = 1 | 2 | 3 | 4;
export type Change = 'sessions' | 'tabs' | 'role' | 'prompts' | 'runtimes';

/** Finished prompts kept for display (the daemon keeps the last 20 per session). */
const MAX_FINISHED_PROMPTS = 200;

const STORAGE_KEY = 'tower.workspace';

interface Persisted {
  tabs: string[];
  panes: string[];
  layout: Layout;
  focused: string | null;
}

function load(): Persisted {
  const fallback: Persisted = { tabs: [], panes: [], layout: 1, focused: null };
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Persisted> | null;
    if (!value) return fallback;
    const strings = (list: unknown) =>
      Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : [];
    const layout = [1, 2, 3, 4].includes(value.layout as number) ? (value.layout as Layout) : 1;
    return {
      tabs: strings(value.tabs),
      panes: strings(value.panes).slice(0, layout),
      layout,
      focused: typeof value.focused === 'string' ? value.focused : null,
    };
  } catch {
    return fallback;
  }
}

export class Store {
  readonly sessions = new Map<string, SessionInfo>();
  /** By prompt id, in the order they were first seen. */
  readonly prompts = new Map<string, PromptInfo>();
  readonly runtimes = new Map<string, RuntimeInfo>();
  /** How each peer answered the last fleet list (empty: this Tower has no peers). */
  peers: PeerStatus[] = [];
  /** Set once a full prompt list arrived: queue lengths then come from it. */
  private promptsLoaded = false;
  role: Role | null = null;
  tabs: string[];
  panes: string[];
  layout: Layout;
  focused: string | null;
  /** Set once the first session list arrived: until then unknown tab ids are kept. */
  private loaded = false;
  /** Replaced sessions the user opened anyway: their tabs stay theirs. */
  private readonly keptOpen = new Set<string>();
  private readonly listeners = new Set<(change: Change) => void>();

  constructor() {
    const persisted = load();
    this.tabs = persisted.tabs;
    this.panes = persisted.panes.filter((id) => this.tabs.includes(id));
    this.layout = persisted.layout;
    this.focused = persisted.focused;
  }

  subscribe(listener: (change: Change) => void): void {
    this.listeners.add(listener);
  }

  private emit(change: Change): void {
    if (change === 'tabs') this.save();
    for (const listener of this.listeners) listener(change);
  }

  private save(): void {
    const data: Persisted = {
      tabs: this.tabs,
      panes: this.panes,
      layout: this.layout,
      focused: this.focused,
    };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(data));
  }

  setRole(role: Role): void {
    if (this.role === role) return;
    this.role = role;
    this.emit('role');
  }

  get canControl(): boolean {
    return this.role !== 'viewer';
  }

  // ------------------------------------------------------------ sessions

  setSessions(list: SessionInfo[], peers: PeerStatus[] = this.peers): void {
    this.peers = peers;
    const arrived = list.filter((session) => !this.sessions.has(session.id));
    this.sessions.clear();
    for (const session of list) this.sessions.set(session.id, session);
    this.loaded = true;
    this.emit('sessions');
    this.prune();
    this.follow(arrived);
  }

  upsert(session: SessionInfo): void {
    const arrived = !this.sessions.has(session.id);
    this.sessions.set(session.id, session);
    this.emit('sessions');
    if (arrived) this.follow([session]);
  }

  /** The session that replaced this one, to the end of the chain (the newest, where restarted twice). */
  successor(id: string, direct = this.directSuccessors()): string | null {
    let last: string | null = null;
    // Bounded by the session count: a chain of restarts never loops, but stored data might.
    for (let at = direct.get(id), steps = 0; at && steps < this.sessions.size; at = direct.get(at), steps++) {
      last = at;
    }
    return last;
  }

  /** Sessions in creation order, each with the ones it replaced (newest first), which are not listed alone. */
  grouped(): { session: SessionInfo; earlier: SessionInfo[] }[] {
    const direct = this.directSuccessors();
    const earlier = new Map<string, SessionInfo[]>();
    for (const session of this.list()) {
      const next = this.successor(session.id, direct);
      if (next !== null) earlier.set(next, [session, ...(earlier.get(next) ?? [])]);
    }
    return this.list()
      .filter((session) => !direct.has(session.id))
      .map((session) => ({ session, earlier: earlier.get(session.id) ?? [] }));
  }

  /** For each replaced session, the newest session whose resumed_from names it. */
  private directSuccessors(): Map<string, string> {
    const newest = new Map<string, SessionInfo>();
    for (const session of this.sessions.values()) {
      const old = session.resumed_from;
      if (!old || !this.sessions.has(old)) continue;
      const known = newest.get(old);
      if (!known || session.created_at > known.created_at) newest.set(old, session);
    }
    return new Map([...newest].map(([old, session]) => [old, session.id]));
  }

  /** Sessions that just arrived replace the ones they resume in tabs and panes: the page follows a restart. */
  private follow(arrived: SessionInfo[]): void {
    if (!arrived.some((session) => session.resumed_from)) return;
    const direct = this.directSuccessors();
    let moved = false;
    for (const old of [...this.tabs]) {
      const next = this.successor(old, direct);
      if (next === null || this.keptOpen.has(old)) continue;
      if (!arrived.some((session) => this.replaces(session.id, old))) continue;
      this.tabs = replaceOnce(this.tabs, old, next);
      this.panes = replaceOnce(this.panes, old, next);
      if (this.focused === old) this.focused = next;
      moved = true;
    }
    if (moved) this.emit('tabs');
  }

  /** `id` resumes `old`, directly or through sessions in between. */
  private replaces(id: string, old: string): boolean {
    let at = this.sessions.get(id);
    for (let steps = 0; at?.resumed_from && steps < this.sessions.size; steps++) {
      if (at.resumed_from === old) return true;
      at = this.sessions.get(at.resumed_from);
    }
    return false;
  }

  remove(id: string): void {
    if (!this.sessions.delete(id)) return;
    for (const prompt of this.prompts.values()) if (prompt.session_id === id) this.prompts.delete(prompt.id);
    this.emit('sessions');
    this.prune();
  }

  // ------------------------------------------------------------ runtimes

  setRuntimes(list: RuntimeInfo[]): void {
    this.runtimes.clear();
    for (const runtime of list) this.runtimes.set(runtime.name, runtime);
    this.emit('runtimes');
  }

  /** The keys that answer this session's approval dialog, when its runtime has them. */
  answers(sessionId: string): AnswerKeys | null {
    const runtime = this.sessions.get(sessionId)?.runtime;
    return (runtime && this.runtimes.get(runtime)?.answers) || null;
  }

  // ------------------------------------------------------------ prompts

  setPrompts(list: PromptInfo[]): void {
    this.prompts.clear();
    for (const prompt of list) this.prompts.set(prompt.id, prompt);
    this.promptsLoaded = true;
    this.emit('prompts');
  }

  upsertPrompt(prompt: PromptInfo): void {
    this.prompts.set(prompt.id, prompt);
    const finished = [...this.prompts.values()].filter((p) => !isPending(p));
    for (const old of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_PROMPTS)))
      this.prompts.delete(old.id);
    this.emit('prompts');
  }

  /** Prompts waiting for the agent to be idle. */
  queued(sessionId: string): number {
    const session = this.sessions.get(sessionId);
    // A peer's prompts are not in this Tower's list: its session's own count is all there is.
    if (!this.promptsLoaded || session?.peer !== undefined) return session?.queued_prompts ?? 0;
    let count = 0;
    for (const prompt of this.prompts.values())
      if (prompt.session_id === sessionId && prompt.state === 'queued') count++;
    return count;
  }

  /** Sessions in creation order. */
  list(): SessionInfo[] {
    return [...this.sessions.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  private prune(): void {
    if (!this.loaded) return;
    const known = (id: string) => this.sessions.has(id);
    if (this.tabs.every(known) && this.panes.every(known)) return;
    this.tabs = this.tabs.filter(known);
    this.panes = this.panes.filter(known);
    if (this.focused !== null && !known(this.focused)) this.focused = this.panes[0] ?? null;
    this.fill();
    this.emit('tabs');
  }

  // ------------------------------------------------------------ tabs and panes

  /** Open a session: add its tab, and show it (in the focused pane if every pane is taken). */
  open(id: string): void {
    if (this.successor(id) !== null) this.keptOpen.add(id);
    if (!this.tabs.includes(id)) this.tabs.push(id);
    if (!this.panes.includes(id)) {
      if (this.panes.length < this.layout) this.panes.push(id);
      else {
        const slot = this.focused === null ? -1 : this.panes.indexOf(this.focused);
        this.panes[slot < 0 ? this.panes.length - 1 : slot] = id;
      }
    }
    this.focused = id;
    this.emit('tabs');
  }

  close(id: string): void {
    this.tabs = this.tabs.filter((tab) => tab !== id);
    this.panes = this.panes.filter((pane) => pane !== id);
    this.fill();
    if (this.focused === id) this.focused = this.panes[0] ?? null;
    this.emit('tabs');
  }

  focus(id: string): void {
    if (this.focused === id) return;
    this.focused = id;
    this.emit('tabs');
  }

  setLayout(layout: Layout): void {
    this.layout = layout;
    this.panes = this.panes.slice(0, layout);
    this.fill();
    if (this.focused !== null && !this.panes.includes(this.focused)) this.focused = this.panes[0] ?? null;
    this.emit('tabs');
  }

  /** Move a tab to `index` in the tab order (the index it should have once moved). */
  moveTab(id: string, index: number): void {
    const from = this.tabs.indexOf(id);
    if (from < 0) return;
    const tabs = this.tabs.filter((tab) => tab !== id);
    tabs.splice(Math.max(0, Math.min(index, tabs.length)), 0, id);
    if (tabs.every((tab, i) => tab === this.tabs[i])) return;
    this.tabs = tabs;
    this.emit('tabs');
  }

  /** The sessions on screen: every pane, or on a narrow screen only the focused one. */
  visible(narrow: boolean): string[] {
    if (!narrow) return this.panes;
    const one = this.focused !== null && this.tabs.includes(this.focused) ? this.focused : this.panes[0];
    return one === undefined ? [] : [one];
  }

  private fill(): void {
    for (const id of this.tabs) {
      if (this.panes.length >= this.layout) break;
      if (!this.panes.includes(id)) this.panes.push(id);
    }
  }
}

/** `list` with `old` replaced by `next` where it stood, or just without `old` if `next` is there already. */
function replaceOnce(list: string[], old: string, next: string): string[] {
  if (!list.includes(old)) return list;
  return list.includes(next) ? list.filter((id) => id !== old) : list.map((id) => (id === old ? next : id));
}

export function isPending(prompt: PromptInfo): boolean {
  return prompt.state === 'queued' || prompt.state === 'delivering';
}
