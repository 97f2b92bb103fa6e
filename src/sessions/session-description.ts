/**
 * What a session says about itself: its SessionInfo (the agor-pty fields, then Tower's extensions),
 * the agent status it starts with, and the words for how its program ended.
 */
import type { AgentStatus, SessionInfo } from '../protocol/index.js';
import type { Journal } from '../terminal/journal.js';
import type { PtyExit } from '../terminal/pty.js';
import type { SessionMeta } from './meta.js';

export function describeSession(
  m: SessionMeta,
  journal: Pick<Journal, 'start' | 'end' | 'health'>,
  live: { agent: AgentStatus; queuedPrompts: number; link: SessionInfo['link'] },
): SessionInfo {
  return {
    id: m.id,
    name: m.name,
    shell: m.command,
    args: m.args,
    cwd: m.cwd,
    cols: m.cols,
    rows: m.rows,
    pid: m.pid,
    status: m.status,
    exit_code: m.exitCode,
    exit_signal: m.exitSignal,
    created_at: m.createdAt,
    exited_at: m.exitedAt,
    first_offset: journal.start,
    last_offset: journal.end,
    runtime: m.runtime,
    agent: live.agent,
    resumed_from: m.resumedFrom,
    queued_prompts: live.queuedPrompts,
    journal: journal.health(),
    substrate: m.substrate,
    link: live.link,
  };
}

/** Starting for a running session; exited (or lost) for one from an earlier run. */
export function firstAgentStatus(meta: SessionMeta, exit: PtyExit | null): AgentStatus {
  return meta.status === 'running'
    ? { state: 'starting', reason: 'spawned', since: meta.createdAt, source: 'spawn' }
    : {
        state: 'exited',
        reason: meta.status === 'lost' ? 'lost: the daemon stopped while it ran' : exitReason(exit),
        since: meta.exitedAt ?? meta.createdAt,
        source: 'exit',
      };
}

export function exitReason(exit: PtyExit | null): string {
  if (!exit) return 'exited';
  if (exit.signal) return `killed by signal ${exit.signal}`;
  return `exited with code ${exit.exitCode}`;
}
