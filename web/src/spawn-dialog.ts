/**
 * "New session": runtime, working directory, name and extra arguments → POST /api/sessions.
 * The runtime list says which are ready and which are blocked; for a blocked one it shows what is
 * missing and how to fix it. Errors (a bad cwd, the credential gate's refusal) stay in the dialog.
 */
import { ApiError, api } from './api.js';
import { h } from './dom.js';
import type { RuntimeInfo, SessionInfo } from './types.js';

const CWD_KEY = 'tower.lastCwd';
const RUNTIME_KEY = 'tower.lastRuntime';

export class SpawnDialog {
  readonly element: HTMLDialogElement;
  private readonly runtime: HTMLSelectElement;
  private readonly runtimeInfo: HTMLElement;
  private readonly cwd: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly args: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly submit: HTMLButtonElement;
  private runtimes: RuntimeInfo[] = [];

  constructor(private readonly onCreated: (session: SessionInfo) => void) {
    this.runtime = h('select', {
      name: 'runtime',
      'aria-label': 'runtime',
      onchange: () => this.describeRuntime(),
    });
    this.runtimeInfo = h('div.runtime-info', { 'aria-live': 'polite' });
    this.cwd = h('input', {
      name: 'cwd',
      placeholder: 'default: the home directory',
      autocomplete: 'off',
      spellcheck: false,
    });
    this.name = h('input', { name: 'name', placeholder: 'optional', autocomplete: 'off', maxLength: 200 });
    this.args = h('input', {
      name: 'args',
      placeholder: 'optional, separated by spaces',
      autocomplete: 'off',
      spellcheck: false,
    });
    this.error = h('p.form-error', { role: 'alert', hidden: true });
    this.submit = h('button.primary', { type: 'submit' }, 'Start');
    const form = h(
      'form.spawn-form',
      { method: 'dialog', onsubmit: (event: Event) => this.create(event) },
      h('h2', null, 'New session'),
      h('label', null, h('span', null, 'Runtime'), this.runtime),
      this.runtimeInfo,
      h('label', null, h('span', null, 'Working directory'), this.cwd),
      h('label', null, h('span', null, 'Name'), this.name),
      h('label', null, h('span', null, 'Extra arguments'), this.args),
      this.error,
      h(
        'div.form-buttons',
        null,
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
    this.describeRuntime();
  }

  /** What the selected runtime is and, when it is blocked, what is missing and how to fix it. */
  private describeRuntime(): void {
    const runtime = this.runtimes.find((candidate) => candidate.name === this.runtime.value);
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
    this.submit.disabled = true;
    const cwd = this.cwd.value.trim();
    const name = this.name.value.trim();
    const args = this.args.value.trim().split(/\s+/).filter(Boolean);
    const runtime = this.runtime.value || undefined;
    try {
      const session = await api.create({
        runtime,
        args: args.length > 0 ? args : undefined,
        cwd: cwd || undefined,
        name: name || undefined,
      });
      localStorage.setItem(CWD_KEY, cwd);
      if (runtime) localStorage.setItem(RUNTIME_KEY, runtime);
      this.element.close();
      this.onCreated(session);
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      this.showError(message);
      if (error instanceof ApiError && error.code === 'bad_cwd') this.cwd.focus();
    } finally {
      this.submit.disabled = false;
    }
  }

  private showError(message: string): void {
    this.error.textContent = message;
    this.error.hidden = false;
  }
}
