/** The workspace: wires the store, the event stream and every part of the page together. */
import { ApiError, api, onUnauthorized } from './api.js';
import { Composer } from './composer.js';
import { confirmDelete, confirmKill } from './confirm-dialog.js';
import { h, icon } from './dom.js';
import { SessionEvents } from './events.js';
import { Inbox } from './inbox.js';
import { KeyBar } from './key-bar.js';
import { KeyInput } from './keys.js';
import { forgetRole, rememberRole, renderLoginHelp } from './login.js';
import { Panes } from './panes.js';
import { Sidebar } from './sidebar.js';
import { SpawnDialog } from './spawn-dialog.js';
import { Store } from './store.js';
import { Tabs } from './tabs.js';
import type { Role } from './types.js';

const NARROW = '(max-width: 699px)';
/** A finger, not a mouse: the key bar is shown whatever the width. */
const TOUCH = '(pointer: coarse)';
const COMPOSER_KEY = 'tower.composer';
/** Peers send no events here: their sessions are asked for this often, while there are peers. */
const FLEET_POLL_MS = 5000;

export class Workspace {
  private readonly store = new Store();
  private readonly narrow = window.matchMedia(NARROW);
  private readonly touch = window.matchMedia(TOUCH);
  private readonly toast = h('div.toast', { role: 'status', hidden: true });
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  private events: SessionEvents | null = null;
  private fleetTimer: ReturnType<typeof setInterval> | undefined;
  private panes!: Panes;
  private inbox!: Inbox;
  private composer!: Composer;

  constructor(
    private readonly root: HTMLElement,
    role: Role | null,
  ) {
    if (role) this.store.setRole(role);
  }

  async start(): Promise<void> {
    onUnauthorized(() => this.loggedOut());
    const store = this.store;
    const input = new KeyInput(store, (message) => this.say(message));
    this.inbox = new Inbox(store, input, {
      open: (id) => this.open(id),
      watching: (id) => document.hasFocus() && this.store.visible(this.narrow.matches).includes(id),
    });
    const spawn = new SpawnDialog((session) => {
      store.upsert(session);
      this.open(session.id);
    });
    const brand = h(
      'div.brand',
      null,
      h('span.brand-name', null, 'Tower'),
      h('span.brand-host', { title: 'this machine' }, location.host),
      h('span.spacer'),
      this.inbox.button,
      h(
        'button.icon-button.logout-button',
        { type: 'button', title: 'log out (this browser)', onclick: () => void this.logout() },
        icon('logout'),
      ),
      this.inbox.panel,
    );
    const sidebar = new Sidebar(
      store,
      {
        spawn: () => void spawn.open(),
        kill: (id) => void this.kill(id),
        remove: (id) => void this.remove(id),
        restart: (id) => void this.restart(id),
        open: (id) => this.open(id),
      },
      brand,
    );
    this.panes = new Panes(
      store,
      {
        narrow: () => this.narrow.matches,
        onRole: (role) => {
          store.setRole(role);
          rememberRole(role);
        },
        onTrouble: () => void this.refresh(),
        kill: (id) => void this.kill(id),
        close: (id) => store.close(id),
      },
      input,
    );
    this.composer = new Composer(store, input, (message) => this.say(message));
    const keyBar = new KeyBar(
      store,
      input,
      (id) => this.panes.view(id)?.term.modes.applicationCursorKeysMode ?? false,
    );
    const menuButton = h(
      'button.icon-button.menu-button',
      { type: 'button', title: 'sessions', onclick: () => document.body.classList.toggle('drawer-open') },
      icon('menu'),
    );
    const composerButton = h(
      'button.icon-button.composer-button',
      { type: 'button', title: 'prompt composer', onclick: () => this.toggleComposer() },
      icon('composer'),
    );
    const tabs = new Tabs(store, { open: (id) => this.open(id), close: (id) => store.close(id) }, [
      menuButton,
    ]);
    tabs.element.append(composerButton);
    const main = h(
      'main.workspace-main',
      null,
      tabs.element,
      this.panes.element,
      keyBar.element,
      this.composer.element,
    );
    this.root.replaceChildren(h('div.app', null, sidebar.element, main), spawn.element, this.toast);

    store.subscribe((change) => {
      if (change === 'role') this.applyRole();
    });
    this.applyRole();
    this.applyNarrow();
    this.narrow.addEventListener('change', () => this.applyNarrow());
    document.body.classList.toggle('touch', this.touch.matches);
    this.touch.addEventListener('change', () => document.body.classList.toggle('touch', this.touch.matches));
    document.body.classList.toggle('composer-open', localStorage.getItem(COMPOSER_KEY) === 'open');

    await this.refresh();
    this.panes.render();
    this.events = new SessionEvents({
      event: ({ event, session }) => {
        if (event === 'removed') store.remove(session.id);
        else store.upsert(session);
      },
      attention: (event, replayed) => this.inbox.attention(event, replayed),
      prompt: (prompt) => store.upsertPrompt(prompt),
      resync: () => void this.refresh(),
      trouble: () => void this.refresh(),
    });
    this.events.start();
    this.fleetTimer = setInterval(() => {
      if (this.store.peers.length > 0) void this.refreshFleet();
    }, FLEET_POLL_MS);
  }

  private async refreshFleet(): Promise<void> {
    try {
      const { sessions, peers } = await api.fleet();
      this.store.setSessions(sessions, peers);
    } catch {}
  }

  private open(id: string): void {
    this.store.open(id);
    this.inbox.seen(id);
    document.body.classList.remove('drawer-open');
    this.panes.focusCurrent();
  }

  private async refresh(): Promise<void> {
    try {
      // Runtimes (for their answer keys) may take a while to describe: the list does not wait.
      void api.runtimes().then(
        (runtimes) => this.store.setRuntimes(runtimes),
        () => {},
      );
      const [{ sessions, peers }, prompts] = await Promise.all([api.fleet(), api.prompts()]);
      this.store.setSessions(sessions, peers);
      this.store.setPrompts(prompts);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401))
        this.say(`Could not list sessions: ${(error as Error).message}`);
    }
  }

  private async restart(id: string): Promise<void> {
    try {
      const { session } = await api.restart(id);
      // The new session takes the old one's tab and pane (the store follows a restart).
      this.store.upsert(session);
      this.open(session.id);
    } catch (error) {
      this.say(`Could not restart ${id}: ${(error as Error).message}`);
    }
  }

  private async logout(): Promise<void> {
    try {
      await api.logout();
    } catch (error) {
      this.say(`Could not log out: ${(error as Error).message}`);
      return;
    }
    forgetRole();
    this.leave('Logged out. Open the login URL again to come back.');
  }

  private async kill(id: string): Promise<void> {
    const session = this.store.sessions.get(id);
    if (!session || !(await confirmKill(session))) return;
    try {
      this.store.upsert(await api.kill(id));
    } catch (error) {
      this.say(`Could not kill ${id}: ${(error as Error).message}`);
    }
  }

  private async remove(id: string): Promise<void> {
    const session = this.store.sessions.get(id);
    if (!session || !(await confirmDelete(session))) return;
    try {
      await api.remove(id);
      this.store.remove(id);
    } catch (error) {
      this.say(`Could not remove ${id}: ${(error as Error).message}`);
    }
  }

  private toggleComposer(): void {
    const open = document.body.classList.toggle('composer-open');
    localStorage.setItem(COMPOSER_KEY, open ? 'open' : 'closed');
    if (open) this.composer.focus();
  }

  private applyRole(): void {
    document.body.classList.toggle('role-viewer', this.store.role === 'viewer');
  }

  private applyNarrow(): void {
    document.body.classList.toggle('narrow', this.narrow.matches);
    this.panes.render();
  }

  private loggedOut(): void {
    this.leave('Your login is no longer valid (the token was rotated, or the server restarted).');
  }

  private leave(message: string): void {
    this.events?.stop();
    this.events = null;
    clearInterval(this.fleetTimer);
    for (const id of this.store.panes) this.panes.view(id)?.dispose();
    renderLoginHelp(this.root, message);
  }

  private say(message: string): void {
    this.toast.textContent = message;
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      this.toast.hidden = true;
    }, 6000);
  }
}
