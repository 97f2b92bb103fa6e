/**
 * Session metadata in SQLite. Environment values are never stored: they may hold secrets.
 * Retained output offsets are recorded for listing; after a crash the journal's files win.
 *
 * The database must never keep the daemon from starting: a damaged file is moved aside (the session
 * list is then rebuilt from the journals, see manager.ts), one that cannot be opened at all (a full
 * disk) is replaced by an in-memory database until the next start, and a malformed row is skipped.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { type SessionMeta, SessionMetaSchema } from './meta.js';

interface Row {
  id: string;
  name: string | null;
  command: string;
  args: string;
  cwd: string;
  cols: number;
  rows: number;
  pid: number | null;
  status: string;
  exit_code: number | null;
  exit_signal: number | null;
  created_at: string;
  exited_at: string | null;
  first_offset: number;
  last_offset: number;
  runtime: string | null;
  resumed_from: string | null;
  /** Absent (null) in rows of older versions. */
  substrate: string | null;
  signal_key: string | null;
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
const ADDED_COLUMNS = ['runtime TEXT', 'resumed_from TEXT', 'substrate TEXT', 'signal_key TEXT'];
/** SQLite result codes that mean the file itself is damaged (as opposed to the disk refusing writes). */
const DAMAGED = /^SQLITE_(CORRUPT|NOTADB)/;

class DamagedDatabase extends Error {}

export class SessionStore {
  private readonly upsertStatement: Database.Statement;
  /** False when tower.db could not be opened and metadata lives in memory until the next start. */
  readonly persistent: boolean;

  private constructor(
    readonly database: Database.Database,
    persistent: boolean,
    private readonly warn: (message: string) => void,
  ) {
    this.persistent = persistent;
    this.upsertStatement = database.prepare(
      `INSERT INTO sessions (id, name, command, args, cwd, cols, rows, pid, status, exit_code, exit_signal, created_at, exited_at,
         first_offset, last_offset, runtime, resumed_from, substrate, signal_key)
       VALUES (@id, @name, @command, @args, @cwd, @cols, @rows, @pid, @status, @exit_code, @exit_signal, @created_at,
         @exited_at, @first_offset, @last_offset, @runtime, @resumed_from, @substrate, @signal_key)
       ON CONFLICT(id) DO UPDATE SET name=@name, cols=@cols, rows=@rows, pid=@pid, status=@status,
         exit_code=@exit_code, exit_signal=@exit_signal, exited_at=@exited_at,
         first_offset=@first_offset, last_offset=@last_offset`,
    );
  }

  /** Open (or create) the database; a damaged one is moved aside, one that cannot be opened replaced. */
  static open(file: string, warn: (message: string) => void): SessionStore {
    let failure: unknown;
    try {
      return new SessionStore(openChecked(file), true, warn);
    } catch (error) {
      failure = error;
    }
    if (isDamaged(failure)) {
      const aside = moveAside(file);
      if (aside) {
        warn(
          `${file} is damaged (${(failure as Error).message}); moved it to ${aside} and rebuilding the ` +
            'session list from the journals',
        );
        try {
          return new SessionStore(openChecked(file), true, warn);
        } catch (error) {
          failure = error;
        }
      }
    }
    warn(
      `cannot open ${file} (${(failure as Error).message}); session metadata is kept in memory until the ` +
        'next start (output is still journaled)',
    );
    return new SessionStore(prepare(new Database(':memory:')), false, warn);
  }

  /** Throws when the disk refuses the write (SQLITE_FULL, I/O errors): the caller retries later. */
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
      substrate: meta.substrate,
      signal_key: meta.signalKey ?? null,
    });
  }

  /** Every well-formed row; a malformed one is skipped with a warning. */
  all(): SessionMeta[] {
    const rows = this.database.prepare('SELECT * FROM sessions ORDER BY created_at, id').all() as Row[];
    const sessions: SessionMeta[] = [];
    for (const row of rows) {
      const meta = fromRow(row);
      if (typeof meta === 'string') this.warn(`skipping stored session ${JSON.stringify(row.id)}: ${meta}`);
      else sessions.push(meta);
    }
    return sessions;
  }

  remove(id: string): void {
    this.database.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  }

  close(): void {
    this.database.close();
  }
}

function isDamaged(error: unknown): boolean {
  return error instanceof DamagedDatabase || DAMAGED.test((error as { code?: string }).code ?? '');
}

function fromRow(row: Row): SessionMeta | string {
  let args: unknown;
  try {
    args = JSON.parse(row.args);
  } catch {
    return 'its args are not JSON';
  }
  const parsed = SessionMetaSchema.safeParse({
    id: row.id,
    name: row.name,
    command: row.command,
    args,
    cwd: row.cwd,
    cols: row.cols,
    rows: row.rows,
    pid: row.pid,
    status: row.status,
    exitCode: row.exit_code,
    exitSignal: row.exit_signal,
    createdAt: row.created_at,
    exitedAt: row.exited_at,
    runtime: row.runtime,
    resumedFrom: row.resumed_from,
    substrate: row.substrate,
    signalKey: row.signal_key,
  });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return `${issue.path.join('.')}: ${issue.message}`;
}

function openChecked(file: string): Database.Database {
  // SQLite gives its -wal and -shm files the database file's mode: create it owner-only first.
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  const database = new Database(file);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    prepare(database);
    const check = database.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new DamagedDatabase(String(check));
    // A damaged page may only show when read.
    database.prepare('SELECT * FROM sessions').all();
    return database;
  } catch (error) {
    database.close();
    throw error;
  }
}

function prepare(database: Database.Database): Database.Database {
  database.exec(SCHEMA);
  const present = new Set(
    (database.prepare('PRAGMA table_info(sessions)').all() as { name: string }[]).map((c) => c.name),
  );
  for (const column of ADDED_COLUMNS) {
    if (!present.has(column.split(' ')[0]!)) database.exec(`ALTER TABLE sessions ADD COLUMN ${column}`);
  }
  return database;
}

/** Rename the database (and its -wal and -shm files) out of the way; returns the new name. */
function moveAside(file: string): string | null {
  const aside = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return null;
  }
  for (const suffix of ['-wal', '-shm']) {
    try {
      fs.renameSync(file + suffix, aside + suffix);
    } catch {
      // Not every database has them.
    }
  }
  return aside;
}
