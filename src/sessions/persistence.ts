/**
 * Where sessions are kept on disk: tower.db, and each session's directory under sessions/ holding its
 * journal and a copy of its metadata (meta.json). Either can rebuild the session list without the other.
 */
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { isSafeSessionId, LOCAL_SUBSTRATE, TowerError } from '../protocol/index.js';
import { hasOutput, readSidecar, type SessionMeta, writeSidecar } from './meta.js';
import { SessionStore } from './store.js';

export class SessionFiles {
  readonly sessionsDir: string;
  readonly store: SessionStore;

  constructor(
    readonly stateDir: string,
    warn: (message: string) => void,
  ) {
    this.sessionsDir = join(stateDir, 'sessions');
    fs.mkdirSync(this.sessionsDir, { recursive: true, mode: 0o700 });
    this.store = SessionStore.open(join(stateDir, 'tower.db'), warn);
  }

  /** The session's directory, which no id (given or stored) can lead out of sessions/. */
  journalDir(id: string): string {
    const dir = join(this.sessionsDir, id);
    if (!isSafeSessionId(id) || dirname(dir) !== this.sessionsDir) {
      throw new TowerError('bad_message', `unsafe session id: ${JSON.stringify(id)}`);
    }
    return dir;
  }

  /** Throws the first failure (a full disk): the caller retries later. */
  save(meta: SessionMeta, offsets: { first: number; last: number }): void {
    const sidecarError = writeSidecar(this.journalDir(meta.id), meta);
    this.store.save(meta, offsets);
    if (sidecarError) throw sidecarError;
  }

  forget(id: string): void {
    this.store.remove(id);
  }

  close(): void {
    this.store.close();
  }
}

/**
 * Every session to bring back: the database's rows, and any session directory the database does not
 * know (a damaged database was set aside, or a row was malformed), rebuilt from its meta.json.
 */
export function restoreSessions(files: SessionFiles, warn: (message: string) => void): SessionMeta[] {
  const sessions = new Map<string, SessionMeta>();
  for (const row of files.store.all()) {
    if (!isSafeSessionId(row.id)) {
      warn(`skipping stored session ${JSON.stringify(row.id)}: unsafe id (its files are left alone)`);
      continue;
    }
    const sidecar = readSidecar(files.journalDir(row.id));
    // The database write at exit may have failed (a full disk) where the copy beside the journal did not.
    const ended =
      typeof sidecar !== 'string' &&
      sidecar.id === row.id &&
      row.status === 'running' &&
      sidecar.status !== 'running';
    sessions.set(row.id, ended ? sidecar : row);
  }
  let names: string[] = [];
  try {
    names = fs.readdirSync(files.sessionsDir);
  } catch {
    // No sessions directory: nothing to rebuild.
  }
  for (const id of names) {
    if (sessions.has(id) || !isSafeSessionId(id)) continue;
    const dir = files.journalDir(id);
    const sidecar = readSidecar(dir);
    if (typeof sidecar !== 'string' && sidecar.id === id) {
      sessions.set(id, sidecar);
      warn(`rebuilt session ${id} from its journal`);
    } else if (hasOutput(dir)) {
      sessions.set(id, placeholder(id, dir));
      warn(`rebuilt session ${id} from its journal (${sidecar}: command and cwd unknown)`);
    }
  }
  return [...sessions.values()].sort(
    (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
  );
}

/** A session known only by its output. */
function placeholder(id: string, dir: string): SessionMeta {
  let createdAt = new Date(0).toISOString();
  try {
    createdAt = fs.statSync(dir).mtime.toISOString();
  } catch {
    // Keep the epoch: it sorts first, which is right for something this old.
  }
  return {
    id,
    name: null,
    command: '(unknown)',
    args: [],
    cwd: '/',
    cols: 80,
    rows: 24,
    pid: null,
    status: 'lost',
    exitCode: null,
    exitSignal: null,
    createdAt,
    exitedAt: null,
    runtime: null,
    resumedFrom: null,
    substrate: LOCAL_SUBSTRATE,
    signalKey: null,
  };
}

/** Reports a failing operation once, and once more when it works again. */
export class FailureLog {
  private readonly failing = new Set<string>();

  constructor(private readonly warn: (message: string) => void) {}

  attempt(what: string, work: () => void): boolean {
    try {
      work();
    } catch (error) {
      if (!this.failing.has(what)) {
        this.failing.add(what);
        this.warn(`cannot ${what}: ${(error as Error).message}; will retry`);
      }
      return false;
    }
    if (this.failing.delete(what)) this.warn(`${what}: working again`);
    return true;
  }
}
