/**
 * One disk budget for every session's journal together, so that many sessions each within their own
 * cap cannot fill the disk. Past it, the oldest output goes first: ended sessions' (the longest ended
 * first), then running sessions' (the largest first). The segment a session is writing is never dropped.
 */
import type { Journal } from '../terminal/journal.js';

export interface BudgetedJournal {
  readonly journal: Journal;
  readonly ended: boolean;
  /** When it ended (ISO 8601), or when it started if it runs. */
  readonly since: string;
}

export function enforceJournalBudget(limitBytes: number, sessions: Iterable<BudgetedJournal>): number {
  const all = [...sessions];
  let total = all.reduce((sum, session) => sum + session.journal.diskBytes, 0);
  let freed = 0;
  if (total <= limitBytes) return 0;
  const ended = all.filter((s) => s.ended).sort((a, b) => a.since.localeCompare(b.since));
  for (const session of ended) {
    while (total > limitBytes && session.journal.droppableSegments > 0) {
      const bytes = session.journal.dropOldestSegment();
      total -= bytes;
      freed += bytes;
    }
  }
  const running = all.filter((s) => !s.ended);
  while (total > limitBytes) {
    const largest = running
      .filter((s) => s.journal.droppableSegments > 0)
      .reduce<BudgetedJournal | null>(
        (a, b) => (a && a.journal.diskBytes >= b.journal.diskBytes ? a : b),
        null,
      );
    if (!largest) break;
    const bytes = largest.journal.dropOldestSegment();
    total -= bytes;
    freed += bytes;
  }
  return freed;
}
