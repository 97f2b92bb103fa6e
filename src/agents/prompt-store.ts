/**
 * Prompt history in tower.db, so queued and recent prompts survive a daemon restart. Bounded per
 * session like the queue itself: every waiting and current prompt, and the last finished ones.
 */
import type Database from 'better-sqlite3';
import { type PromptInfo, PromptState, type SessionStatus } from '../protocol/index.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS prompts (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  text TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  queued_at TEXT NOT NULL,
  delivered_at TEXT,
  error TEXT
);
CREATE INDEX IF NOT EXISTS prompts_by_session ON prompts (session_id)`;

const FINISHED = `state IN ('delivered', 'failed', 'cancelled')`;

type Row = Omit<PromptInfo, 'waiting'>;

export class PromptStore {
  private readonly upsert: Database.Statement;
  private readonly prune: Database.Statement;
  private warned = false;

  constructor(
    private readonly db: Database.Database,
    /** Finished prompts kept per session. */
    private readonly finishedKept: number,
  ) {
    db.exec(SCHEMA);
    this.upsert = db.prepare(
      `INSERT INTO prompts (id, session_id, text, state, attempts, queued_at, delivered_at, error)
       VALUES (@id, @session_id, @text, @state, @attempts, @queued_at, @delivered_at, @error)
       ON CONFLICT(id) DO UPDATE SET state=@state, attempts=@attempts, delivered_at=@delivered_at, error=@error`,
    );
    this.prune = db.prepare(
      `DELETE FROM prompts WHERE session_id = @session AND ${FINISHED} AND rowid NOT IN
         (SELECT rowid FROM prompts WHERE session_id = @session AND ${FINISHED} ORDER BY rowid DESC LIMIT @kept)`,
    );
  }

  save(prompt: PromptInfo): void {
    this.write(() => {
      const { waiting: _, ...row } = prompt;
      this.upsert.run(row);
      if (prompt.state !== 'queued' && prompt.state !== 'delivering') {
        this.prune.run({ session: prompt.session_id, kept: this.finishedKept });
      }
    });
  }

  /**
   * At start: every stored prompt by session, in the order they were queued. Those of running
   * sessions (adopted from the session host) are theirs again, waiting prompts still waiting; those
   * of ended sessions are history, and what they never got is failed, saying why; those of sessions
   * that are gone, forgotten.
   */
  restore(statusOf: (sessionId: string) => SessionStatus | undefined): {
    history: Map<string, PromptInfo[]>;
    queued: Map<string, PromptInfo[]>;
  } {
    const history = this.all();
    const queued = new Map<string, PromptInfo[]>();
    for (const [sessionId, prompts] of history) {
      const status = statusOf(sessionId);
      if (status === undefined) {
        this.remove(sessionId);
        history.delete(sessionId);
        continue;
      }
      if (status === 'running') {
        history.delete(sessionId);
        queued.set(sessionId, prompts);
        continue;
      }
      const why =
        status === 'lost'
          ? 'not delivered: the session was lost when the daemon stopped'
          : 'not delivered: the session ended first';
      for (const prompt of prompts) {
        if (prompt.state !== 'queued' && prompt.state !== 'delivering') continue;
        Object.assign(prompt, { state: 'failed', error: why });
        this.save(prompt);
      }
    }
    return { history, queued };
  }

  /** Every stored prompt by session, in the order they were queued; rows that are not prompts are skipped. */
  private all(): Map<string, PromptInfo[]> {
    const rows = this.db.prepare('SELECT * FROM prompts ORDER BY rowid').all() as Row[];
    const bySession = new Map<string, PromptInfo[]>();
    for (const row of rows) {
      if (!PromptState.safeParse(row.state).success) continue;
      const list = bySession.get(row.session_id) ?? [];
      list.push({ ...row, waiting: null });
      bySession.set(row.session_id, list);
    }
    return bySession;
  }

  remove(sessionId: string): void {
    this.write(() => this.db.prepare('DELETE FROM prompts WHERE session_id = ?').run(sessionId));
  }

  /** History never fails a prompt: without it (a full disk, the daemon closing) prompts go on. */
  private write(change: () => void): void {
    if (!this.db.open) return;
    try {
      change();
    } catch (error) {
      if (this.warned) return;
      this.warned = true;
      process.stderr.write(`tower: prompt history is not being saved: ${(error as Error).message}\n`);
    }
  }
}
