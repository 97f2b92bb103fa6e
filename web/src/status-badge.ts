/**
 * A session's status as a badge. A running session shows what its agent is doing (starting, idle,
 * busy, needs input); an ended one shows exited (with its code) or lost. Known states get a colour,
 * others a neutral one, and every badge carries `data-status` for styling and tests.
 */
import { h } from './dom.js';
import type { SessionInfo } from './types.js';

const TONES: Record<string, string> = {
  running: 'ok',
  idle: 'ok',
  starting: 'neutral',
  busy: 'active',
  needs_input: 'attention',
  exited: 'muted',
  lost: 'warn',
  error: 'warn',
  disconnected: 'warn',
};

type StatusFields = Pick<SessionInfo, 'status' | 'exit_code' | 'exit_signal'> & {
  agent?: Pick<SessionInfo['agent'], 'state' | 'reason'>;
  link?: SessionInfo['link'];
};

/**
 * idle, busy, needs_input, starting while it runs (disconnected while the link to its machine is
 * down); exited or lost once it has ended.
 */
export function sessionState(session: StatusFields): string {
  if (session.status !== 'running') return session.status;
  if (session.link?.state === 'disconnected') return 'disconnected';
  return session.agent?.state ?? 'running';
}

export function statusText(session: StatusFields): string {
  const state = sessionState(session);
  if (session.status !== 'exited') return state.replace(/_/g, ' ');
  if (session.exit_signal !== null) return `exited (sig ${session.exit_signal})`;
  return session.exit_code === null ? 'exited' : `exited (${session.exit_code})`;
}

export function statusBadge(session: StatusFields): HTMLElement {
  const state = sessionState(session);
  const why =
    state === 'disconnected' || session.status === 'lost' ? session.link?.reason : session.agent?.reason;
  const reason = why && session.status !== 'exited' ? ` (${why})` : '';
  return h(
    'span.badge',
    {
      dataset: { status: state, tone: TONES[state] ?? 'neutral' },
      title: `status: ${statusText(session)}${reason}`,
    },
    statusText(session),
  );
}

/** The dot on a tab: same tone, no words. */
export function statusDot(status: string): HTMLElement {
  return h('span.status-dot', {
    dataset: { status, tone: TONES[status] ?? 'neutral' },
    title: status.replace(/_/g, ' '),
  });
}

/** The runtime a session runs (claude, shell…); nothing for a plain command. */
export function runtimeTag(session: Pick<SessionInfo, 'runtime'>): HTMLElement | null {
  return session.runtime ? h('span.runtime-tag', { title: 'runtime' }, session.runtime) : null;
}

/** How many prompts wait for the agent; nothing when none do. */
export function queueTag(queued: number): HTMLElement | null {
  if (queued <= 0) return null;
  return h(
    'span.queue-tag',
    {
      title: `${queued} prompt${queued === 1 ? '' : 's'} waiting for the agent`,
      dataset: { queued: String(queued) },
    },
    `${queued} queued`,
  );
}

export function sessionTitle(session: Pick<SessionInfo, 'id' | 'name'> | undefined, id: string): string {
  return session?.name || session?.id || id;
}

export function commandLine(session: Pick<SessionInfo, 'shell' | 'args'>): string {
  return [session.shell, ...session.args].join(' ');
}
