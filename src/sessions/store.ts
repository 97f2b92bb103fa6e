/**
 * Session metadata in SQLite. Environment values are never stored: they may hold secrets.
 * Retained output offsets are recorded for listing; after a crash the journal's files win.
 */
import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SessionMeta } from './session.js';

interface Row {
  id: string;
  name: string | null;
  command: string;
  args: string;
  cwd: string;
  cols: number;
  rows: number;
  pid: number | null;
  status: SessionMeta['status'];
  exit_code: number | null;
  exit_signal: number | null;
  created_at: string;
  exited_at: string | null;
  first_offset: number;
  last_offset: number;
  runtime: string | null;
  resumed_from: string | null;
}

export interface StoredSession extends SessionMeta {
  firstOffset: number;
  lastOffset: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  name TEXT,
  command TEXT NOT NULL,
  args TEXT NOT NULL,
  cwd TEXT NOT NULL,
  cols INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  pid INTEGER,
  status TEXT NOT NULL,
  exit_code INTEGER,
  exit_signal INTEGER,
  created_at TEXT NOT NULL,
  exited_at TEXT,
  first_offset INTEGER NOT NULL DEFAULT 0,
  last_offset INTEGER NOT NULL DEFAULT 0
)`;
/** Columns added after the first release; added to older databases on open. */
const ADDED_COLUMNS = ['runtime TEXT', 'resumed_from TEXT'];

export class SessionStore {
  private readonly db: Database.Database;
  private readonly upsertStatement: Database.Statement;

  constructor(file: string) {
    // SQLite gives its -wal and -shm files the database file's mode: create it owner-only first.
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const present = new Set(
      (this.db.prepare('PRAGMA table_info(sessions)').all() as { name: string }[]).map((c) => c.name),
    );
    for (const column of ADDED_COLUMNS) {
      if (!present.has(column.split(' ')[0]!)) this.db.exec(`ALTER TABLE sessions ADD COLUMN ${column}`);
    }
    this.upsertStatement = this.db.prepare(
      `INSERT INTO sessions (id, name, command, args, cwd, cols, rows, pid, status, exit_code, exit_signal, created_at, exited_at,
         first_offset, last_offset, runtime, resumed_from)
       VALUES (@id, @name, @command, @args, @cwd, @cols, @rows, @pid, @status, @exit_code, @exit_signal, @created_at,
         @exited_at, @first_offset, @last_offset, @runtime, @resumed_from)
       ON CONFLICT(id) DO UPDATE SET name=@name, cols=@cols, rows=@rows, pid=@pid, status=@status,
         exit_code=@exit_code, exit_signal=@exit_signal, exited_at=@exited_at,
         first_offset=@first_offset, last_offset=@last_offset`,
    );
  }

  /** The open database, for the layers above that keep their own tables in tower.db. */
  get database(): Database.Database {
    return this.db;
  }

  save(meta: SessionMeta, offsets: { first: number; last: number }): void {
    this.upsertStatement.run({
      id: meta.id,
      name: meta.name,
      command: meta.command,
      args: JSON.stringify(meta.args),
      cwd: meta.cwd,
      cols: meta.cols,
      rows: meta.rows,
      pid: meta.pid,
      status: meta.status,
      exit_code: meta.exitCode,
      exit_signal: meta.exitSignal,
      created_at: meta.createdAt,
      exited_at: meta.exitedAt,
      first_offset: offsets.first,
      last_offset: offsets.last,
      runtime: meta.runtime,
      resumed_from: meta.resumedFrom,
    });
  }

  all(): StoredSession[] {
    const rows = this.db.prepare('SELECT * FROM sessions ORDER BY created_at, id').all() as Row[];
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      command: row.command,
      args: JSON.parse(row.args) as string[],
      cwd: row.cwd,
      cols: row.cols,
      rows: row.rows,
      pid: row.pid,
      status: row.status,
      exitCode: row.exit_code,
      exitSignal: row.exit_signal,
      createdAt: row.created_at,
      exitedAt: row.exited_at,
      firstOffset: row.first_offset,
      lastOffset: row.last_offset,
      runtime: row.runtime,
      resumedFrom: row.resumed_from,
    }));
  }

  remove(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  }

  close(): void {
    this.db.close();
  }
}
