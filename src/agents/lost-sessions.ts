/** Sessions the host found lost when it started (each told once), and what became of them. */
import type { SessionMeta } from '../sessions/meta.js';
import type { AgentSession } from './ports.js';

/** A session the last daemon run left running, and what became of it at this start. */
export interface LostSession {
  id: string;
  name: string | null;
  runtime: string | null;
  /** The program and its arguments. */
  command: string;
  cwd: string;
  /** Running when the last daemon run stopped (else lost in an earlier run, relaunched now). */
  lostNow: boolean;
  relaunchedAs: string | null;
}

/**
 * One `lost` attention event (through `raise`) for each session lost at this start; returns those and
 * the ones relaunched (--resume-lost), with what became of each.
 */
export function lostReport(
  sessions: AgentSession[],
  lostAtStart: string[],
  relaunched: AgentSession[],
  raise: (meta: SessionMeta, excerpt: string) => void,
): LostSession[] {
  const relaunchedAs = new Map(relaunched.map((session) => [session.meta.resumedFrom, session.id]));
  const lostNow = new Set(lostAtStart);
  return sessions
    .filter((session) => lostNow.has(session.id) || relaunchedAs.has(session.id))
    .map(({ meta }) => {
      const newId = relaunchedAs.get(meta.id) ?? null;
      if (lostNow.has(meta.id)) {
        const fate = newId ? `relaunched as ${newId}` : 'its output is kept';
        raise(meta, `lost when the daemon stopped; ${fate}`);
      }
      return {
        id: meta.id,
        name: meta.name,
        runtime: meta.runtime,
        command: [meta.command, ...meta.args].join(' '),
        cwd: meta.cwd,
        lostNow: lostNow.has(meta.id),
        relaunchedAs: newId,
      };
    });
}
