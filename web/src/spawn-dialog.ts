/** "New session": runtime, working directory and name → POST /api/sessions. Errors stay in the dialog. */
import { ApiError, api } from './api.js';
import { h } from './dom.js';
import type { SessionInfo } from './types.js';

const CWD_KEY = 'tower.lastCwd';

export class SpawnDialog {
  readonly element: HTMLDialogElement;
  private readonly runtime: HTMLSelectElement;
  private readonly cwd: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly submit: HTMLButtonElement;

  constructor(private readonly onCreated: (session: SessionInfo) => void) {
    this.runtime = h('select', { name: 'runtime', 'aria-label': 'runtime' });
    this.cwd = h('input', {
      name: 'cwd',
      placeholder: 'default: the home directory',
      autocomplete: 'off',
      spellcheck: false,
    });
    this.name = h('input', { name: 'name', placeholder: 'optional', autocomplete: 'off', maxLength: 200 });
    this.error = h('p.form-error', { role: 'alert', hidden: true });
    this.submit = h('button.primary', { type: 'submit' }, 'Start');
    const form = h(
      'form.spawn-form',
      { method: 'dialog', onsubmit: (event: Event) => this.create(event) },
      h('h2', null, 'New session'),
      h('label', null, h('span', null, 'Runtime'), this.runtime),
      h('label', null, h('span', null, 'Working directory'), this.cwd),
      h('label', null, h('span', null, 'Name'), this.name),
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
    this.cwd.value = localStorage.getItem(CWD_KEY) ?? '';
    this.element.showModal();
    this.name.focus();
    try {
      const runtimes = await api.runtimes();
      const current = this.runtime.value;
      this.runtime.replaceChildren(
        ...runtimes.map((runtime) =>
          h(
            'option',
            { value: runtime.name, disabled: !runtime.ready },
            runtime.ready
              ? runtime.name
              : `${runtime.name} (${runtime.installed ? 'not ready' : 'not installed'})`,
          ),
        ),
      );
      if (current && runtimes.some((runtime) => runtime.name === current)) this.runtime.value = current;
    } catch (error) {
      if (this.runtime.options.length === 0)
        this.runtime.replaceChildren(h('option', { value: 'shell' }, 'shell'));
      this.showError(`Could not list runtimes: ${(error as Error).message}`);
    }
  }

  private async create(event: Event): Promise<void> {
    event.preventDefault();
    this.error.hidden = true;
    this.submit.disabled = true;
    const cwd = this.cwd.value.trim();
    const name = this.name.value.trim();
    try {
      const session = await api.create({
        runtime: this.runtime.value || undefined,
        cwd: cwd || undefined,
        name: name || undefined,
      });
      localStorage.setItem(CWD_KEY, cwd);
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
