/**
 * Login: the URL `tower serve` prints carries the token in the fragment (#token=…), which never
 * reaches a server or a Referer. The page trades it for an HttpOnly cookie (POST /api/login) and
 * drops it from the address bar and history at once.
 */
import { ApiError, api } from './api.js';
import { h } from './dom.js';
import type { Role } from './types.js';

const ROLE_KEY = 'tower.role';

export type LoginOutcome = { ok: true; role: Role | null } | { ok: false; message: string };

export function tokenFromHash(hash: string): string | null {
  const match = /(?:^#|&)token=([^&]+)/.exec(hash);
  return match ? decodeURIComponent(match[1]!) : null;
}

export async function loginFromLocation(): Promise<LoginOutcome> {
  const token = tokenFromHash(location.hash);
  if (token === null) return { ok: true, role: storedRole() };
  history.replaceState(history.state, '', location.pathname + location.search);
  return loginWithToken(token);
}

export async function loginWithToken(token: string): Promise<LoginOutcome> {
  try {
    const { role } = await api.login(token);
    localStorage.setItem(ROLE_KEY, role);
    return { ok: true, role };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return { ok: false, message: 'That token is wrong, or it was rotated.' };
    }
    return { ok: false, message: (error as Error).message };
  }
}

/** What the last login here said; the server decides every request anyway. */
export function storedRole(): Role | null {
  const role = localStorage.getItem(ROLE_KEY);
  return role === 'admin' || role === 'viewer' ? role : null;
}

export function rememberRole(role: Role): void {
  localStorage.setItem(ROLE_KEY, role);
}

export function forgetRole(): void {
  localStorage.removeItem(ROLE_KEY);
}

/** The screen shown when the server does not know this browser. */
export function renderLoginHelp(root: HTMLElement, problem?: string): void {
  const status = h('p.login-status', { role: 'alert' }, problem ?? '');
  const input = h('input', {
    type: 'password',
    placeholder: 'token, or the whole login URL',
    autocomplete: 'off',
    'aria-label': 'token',
  });
  const form = h(
    'form.login-form',
    {
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const value = input.value.trim();
        const token = tokenFromHash(value.slice(value.indexOf('#'))) ?? value;
        if (!token) return;
        const outcome = await loginWithToken(token);
        if (outcome.ok) location.reload();
        else status.textContent = outcome.message;
      },
    },
    input,
    h('button', { type: 'submit' }, 'Log in'),
  );
  root.replaceChildren(
    h(
      'main.login',
      null,
      h('h1', null, 'Tower'),
      h(
        'p.login-help',
        { 'data-testid': 'login-help' },
        'Not logged in. Open the login URL printed by ',
        h('code', null, 'tower serve'),
        ' (it ends in ',
        h('code', null, '#token=…'),
        '), or paste it here.',
      ),
      form,
      status,
    ),
  );
  input.focus();
}
