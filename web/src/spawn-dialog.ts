/**
 * "New session": runtime, where it runs, working directory, name and extra arguments → POST /api/sessions.
 * The runtime list says which are ready and which are blocked; for a blocked one it shows what is
 * missing and how to fix it, and one that is not installed cannot be started (Start says why).
 * Extra arguments are split with shell quoting; the daemon expands `~` in the working directory.
 * Errors (a bad cwd, an unclosed quote, the gate's refusal) stay in the dialog until the runtime
 * or the next try changes them. "Runs on" lists the substrates (shown when there is more than local);
 * one that cannot start sessions now cannot be chosen to (Start says why). A substrate on a box (ssh,
 * docker) can be bootstrapped from there (bootstrap-panel.ts).
 */
import { ApiError, api } from './api.js';
import { BootstrapPanel } from './bootstrap-panel.js';
import { h } from './dom.js';
import { splitShellWords } from './shell-words.js';
import type { RuntimeInfo, SessionInfo, SubstrateInfo } from './types.js';

const CWD_KEY = 'tower.lastCwd';
const RUNTIME_KEY = 'tower.lastRuntime';
const SUBSTRATE_KEY = 'tower.lastSubstrate';

export class SpawnDialog {
  readonly element: HTMLDialogElement;
  private readonly runtime: HTMLSelectElement;
  private readonly runtimeInfo: HTMLElement;
  private readonly substrate: HTMLSelectElement;
  private readonly substrateField: HTMLElement;
  private substrates: SubstrateInfo[] = [];
  private readonly bootstrap = new BootstrapPanel(() => void this.listSubstrates());
  private readonly cwd: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly args: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly submit: HTMLButtonElement;
  /** Why Start is disabled, next to it. */
  private readonly startReason: HTMLElement;
  private runtimes: RuntimeInfo[] = [];
  private creating = false;

  constructor(private readonly onCreated: (session: SessionInfo) => void) {
    this.runtime = h('select', {
      name: 'runtime',
      'aria-label': 'runtime',
      onchange: () => {
        this.error.hidden = true;
        this.describeRuntime();
      },
    });
    this.runtimeInfo = h('div.runtime-info', { 'aria-live': 'polite' });
    this.substrate = h('select', {
      name: 'substrate',
      'aria-label': 'runs on',
      onchange: () => {
        this.error.hidden = true;
        this.updateStart();
        this.bootstrap.show(this.selectedSubstrate);
      },
    });
    this.substrateField = h('label', { hidden: true }, h('span', null, 'Runs on'), this.substrate);
    this.cwd = h('input', {
      name: 'cwd',
      placeholder: 'default: the home directory (~)',
      autocomplete: 'off',
      spellcheck: false,
    });
    this.name = h('input', { name: 'name', placeholder: 'optional', autocomplete: 'off', maxLength: 200 });
    this.args = h('input', {
      name: 'args',
      placeholder: `optional, quoted as in a shell: -c 'echo hi'`,
      autocomplete: 'off',
      spellcheck: false,
    });
    this.error = h('p.form-error', { role: 'alert', hidden: true });
    this.submit = h('button.primary', { type: 'submit' }, 'Start');
    this.startReason = h('span.start-reason', { hidden: true });
    const form = h(
      'form.spawn-form',
      { method: 'dialog', onsubmit: (event: Event) => this.create(event) },
      h('h2', null, 'New session'),
      h('label', null, h('span', null, 'Runtime'), this.runtime),
      this.runtimeInfo,
      this.substrateField,
      this.bootstrap.element,
      h('label', null, h('span', null, 'Working directory'), this.cwd),
      h('label', null, h('span', null, 'Name'), this.name),
      h('label', null, h('span', null, 'Extra arguments'), this.args),
      this.error,
      h(
        'div.form-buttons',
        null,
        this.startReason,
        h('button', { type: 'button', onclick: () => this.element.close() }, 'Cancel'),
        this.submit,
      ),
    );
    this.element = h('dialog.spawn-dialog', { 'aria-label': 'new session' }, form);
  }

  async open(): Promise<void> {
    this.error.hidden = true;
    this.name.value = '';
    this.args.value = '';
    this.cwd.value = localStorage.getItem(CWD_KEY) ?? '';
    this.element.showModal();
    this.name.focus();
    try {
      this.runtimes = await api.runtimes();
      const wanted = this.runtime.value || localStorage.getItem(RUNTIME_KEY) || 'shell';
      // Ready ones first, each in the server's order; blocked ones stay selectable to show why.
      const ordered = [...this.runtimes.filter((r) => r.ready), ...this.runtimes.filter((r) => !r.ready)];
      this.runtime.replaceChildren(
        ...ordered.map((runtime) =>
          h(
            'option',
            { value: runtime.name, dataset: { ready: String(runtime.ready) } },
            `${runtime.name} — ${runtime.ready ? 'ready' : runtime.installed ? 'blocked' : 'not installed'}`,
          ),
        ),
      );
      this.runtime.value = ordered.some((runtime) => runtime.name === wanted) ? wanted : 'shell';
    } catch (error) {
      if (this.runtime.options.length === 0)
        this.runtime.replaceChildren(h('option', { value: 'shell' }, 'shell'));
      this.showError(`Could not list runtimes: ${(error as Error).message}`);
    }
    await this.listSubstrates();
    this.describeRuntime();
  }

  /** The substrates, local first; the field shows only when there is a choice. */
  private async listSubstrates(): Promise<void> {
    try {
      this.substrates = await api.substrates();
    } catch {
      this.substrates = [];
    }
    const wanted = this.substrate.value || localStorage.getItem(SUBSTRATE_KEY) || 'local';
    this.substrate.replaceChildren(
      ...this.substrates.map((substrate) =>
        h(
          'option',
          { value: substrate.name },
          `${substrate.name} — ${substrate.state} (${substrate.detail})`,
        ),
      ),
    );
    this.substrate.value = this.substrates.some((substrate) => substrate.name === wanted) ? wanted : 'local';
    this.substrateField.hidden = this.substrates.length < 2;
    this.bootstrap.show(this.selectedSubstrate);
    this.updateStart();
  }

  private get selectedSubstrate(): SubstrateInfo | undefined {
    return this.substrates.find((candidate) => candidate.name === this.substrate.value);
  }

  private get selected(): RuntimeInfo | undefined {
    return this.runtimes.find((candidate) => candidate.name === this.runtime.value);
  }

  /** Start waits for a request under way, and cannot start a runtime whose program is not installed. */
  private updateStart(): void {
    const runtime = this.selected;
    const substrate = this.selectedSubstrate;
    const missing = runtime !== undefined && !runtime.installed;
    const unavailable = substrate !== undefined && substrate.state === 'error';
    this.submit.disabled = this.creating || missing || unavailable;
    this.startReason.hidden = !missing && !unavailable;
    this.startReason.textContent = missing
      ? `${runtime.name} is not installed`
      : unavailable
        ? `${substrate.name} cannot start sessions: ${substrate.reason ?? 'error'}`
        : '';
  }

  /** What the selected runtime is and, when it is blocked, what is missing and how to fix it. */
  private describeRuntime(): void {
    this.updateStart();
    const runtime = this.selected;
    if (!runtime) {
      this.runtimeInfo.replaceChildren();
      this.runtimeInfo.hidden = true;
      return;
    }
    this.runtimeInfo.hidden = false;
    this.runtimeInfo.dataset.ready = String(runtime.ready);
    const about = [runtime.description, runtime.version ?? runtime.path].filter(Boolean).join(' · ');
    const parts: HTMLElement[] = [h('div.runtime-about', null, about || runtime.command)];
    if (!runtime.ready) {
      parts.push(
        h(
          'ul.runtime-missing',
          { 'aria-label': 'what is missing' },
          ...runtime.missing.map((item) => h('li', null, item)),
        ),
      );
      if (runtime.fix) parts.push(h('div.runtime-fix', null, h('strong', null, 'Fix: '), runtime.fix));
    }
    this.runtimeInfo.replaceChildren(...parts);
  }

  private async create(event: Event): Promise<void> {
    event.preventDefault();
    this.error.hidden = true;
    if (this.submit.disabled) return;
    const cwd = this.cwd.value.trim();
    const name = this.name.value.trim();
    let args: string[];
    try {
      args = splitShellWords(this.args.value);
    } catch (error) {
      this.showError(`Extra arguments: ${(error as Error).message}`);
      this.args.focus();
      return;
    }
    const runtime = this.runtime.value || undefined;
    const substrate = this.substrate.value || undefined;
    this.creating = true;
    this.updateStart();
    try {
      const session = await api.create({
        runtime,
        substrate,
        args: args.length > 0 ? args : undefined,
        cwd: cwd || undefined,
        name: name || undefined,
      });
      localStorage.setItem(CWD_KEY, cwd);
      if (runtime) localStorage.setItem(RUNTIME_KEY, runtime);
      if (substrate) localStorage.setItem(SUBSTRATE_KEY, substrate);
      this.element.close();
      this.onCreated(session);
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      this.showError(message);
      if (error instanceof ApiError && error.code === 'bad_cwd') this.cwd.focus();
    } finally {
      this.creating = false;
      this.updateStart();
    }
  }

  private showError(message: string): void {
    this.error.textContent = message;
    this.error.hidden = false;
  }
}
