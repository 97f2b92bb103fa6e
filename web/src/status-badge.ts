/**
 * A session's status as a badge. Takes any status string: running, exited and lost today; idle,
 * busy, needs_input… once the agents layer reports them. Known ones get a colour, others a neutral
 * one, and every badge carries `data-status` for styling and tests.
 */
import { h } from './dom.js';
import type { SessionInfo } from './types.js';

const TONES: Record<string, string> = {
  running: 'ok',
  idle: 'ok',
  busy: 'active',
  working: 'active',
  needs_input: 'attention',
  'needs-input': 'attention',
  waiting: 'attention',
  exited: 'muted',
  lost: 'warn',
  error: 'warn',
};

export function statusText(session: Pick<SessionInfo, 'status' | 'exit_code' | 'exit_signal'>): string {
  if (session.status !== 'exited') return session.status.replace(/_/g, ' ');
  if (session.exit_signal !== null) return `exited (sig ${session.exit_signal})`;
  return session.exit_code === null ? 'exited' : `exited (${session.exit_code})`;
}

export function statusBadge(session: Pick<SessionInfo, 'status' | 'exit_code' | 'exit_signal'>): HTMLElement {
  const status = String(session.status);
  return h(
    'span.badge',
    { dataset: { status, tone: TONES[status] ?? 'neutral' }, title: `status: ${status}` },
    statusText(session),
  );
}

/** The dot on a tab: same tone, no words. */
export function statusDot(status: string): HTMLElement {
  return h('span.status-dot', { dataset: { status, tone: TONES[status] ?? 'neutral' }, title: status });
}

export function sessionTitle(session: Pick<SessionInfo, 'id' | 'name'> | undefined, id: string): string {
  return session?.name || session?.id || id;
}

export function commandLine(session: Pick<SessionInfo, 'shell' | 'args'>): string {
  return [session.shell, ...session.args].join(' ');
}
