/**
 * Owns every session: creates them, restores them after a restart (as exited or lost),
 * persists their metadata and tells watchers what changed.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { SessionInfo } from '../protocol/index.js';
import { isSafeSessionId, TowerError } from '../protocol/index.js';
import { Journal } from '../terminal/journal.js';
import { type PtyProcess, spawnPty } from '../terminal/pty.js';
import { ScreenHost } from '../terminal/screen.js';
import { checkCwd, defaultShell, resolveCommand } from './command.js';
import { Session, type SessionMeta } from './session.js';
import { SessionStore } from './store.js';

export interface ManagerOptions {
  stateDir: string;
  /** Where problems found in stored state are reported; default: stderr. */
  warn?: (message: string) => void;
  ringBytes?: number;
  diskCapBytes?: number;
  scrollback?: number;
}

export interface CreateOptions {
  id?: string;
  name?: string;
  command?: string;
  args?: string[];
  /** The arguments to show and keep, when a runtime adds its own to `args`; default: args. */
  displayArgs?: string[];
  cwd?: string;
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
  runtime?: string | null;
  resumedFrom?: string | null;
}

export type SessionEventName = 'created' | 'exited' | 'removed' | 'resized' | 'status';

interface ManagerEvents {
  session: [SessionEventName, SessionInfo];
}

const DEFAULT_RING_BYTES = 8 * 1024 * 1024;
const OFFSET_SAVE_INTERVAL_MS = 2000;
const KILL_GRACE_MS = 2000;

export class SessionManager extends EventEmitter<ManagerEvents> {
  private readonly sessions = new Map<string, Session>();
  private readonly store: SessionStore;
  private readonly screen: ScreenHost;
  private readonly sessionsDir: string;
  private readonly ringBytes: number;
  private readonly offsetTimer: NodeJS.Timeout;
  private readonly dirtyOffsets = new Set<Session>();
  private readonly warn: (message: string) => void;
  /** Ids of the sessions the last daemon run left running: they became lost at this start. */
  readonly lostAtStart: string[] = [];

  constructor(private readonly options: ManagerOptions) {
    super();
    this.warn = options.warn ?? ((message) => process.stderr.write(`tower: ${message}\n`));
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    this.sessionsDir = join(resolve(options.stateDir), 'sessions');
    mkdirSync(this.sessionsDir, { recursive: true, mode: 0o700 });
    this.ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    this.store = new SessionStore(join(options.stateDir, 'tower.db'));
    this.screen = new ScreenHost({ scrollback: options.scrollback });
    this.screen.onReply = (id, data) => this.sessions.get(id)?.reply(data);
    this.screen.onParsed = (id, offset) => this.sessions.get(id)?.screenParsed(offset);
    this.screen.onRestart = () => {
      for (const session of this.sessions.values()) session.screenLost();
    };
    // Without a screen model nothing would ever resume a PTY paused for it.
    this.screen.onFailed = () => {
      for (const session of this.sessions.values()) session.screenParsed(session.journal.end);
    };
    this.restore();
    this.offsetTimer = setInterval(() => this.saveOffsets(), OFFSET_SAVE_INTERVAL_MS);
    this.offsetTimer.unref();
  }

  /** tower.db, for the agents layer's own tables. */
  get database(): SessionStore['database'] {
    return this.store.database;
  }

  newId(): string {
    let id: string;
    do id = randomBytes(4).toString('hex');
    while (this.sessions.has(id));
    return id;
  }

  create(options: CreateOptions): Session {
    const id = options.id ?? this.newId();
    if (this.sessions.has(id)) throw new TowerError('session_exists', `session ${id} already exists`);
    const cwd = checkCwd(options.cwd ?? process.env.HOME ?? process.cwd());
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      TERM: 'xterm-256color',
      COLORTERM: 'truecolor',
      ...options.env,
      TOWER_SESSION_ID: id,
    };
    const command = options.command ?? defaultShell();
    const executable = resolveCommand(command, cwd, env.PATH);
    const cols = options.cols ?? 80;
    const rows = options.rows ?? 24;
    const journal = this.openJournal(id, false);
    let pty: PtyProcess;
    try {
      pty = spawnPty({ command: executable, args: options.args ?? [], cwd, env, cols, rows });
    } catch (error) {
      journal.destroy();
      throw new TowerError('internal', `cannot start ${command}: ${(error as Error).message}`);
    }
    const meta: SessionMeta = {
      id,
      name: options.name ?? null,
      command,
      args: options.displayArgs ?? options.args ?? [],
      cwd,
      cols,
      rows,
      pid: pty.pid,
      status: 'running',
      exitCode: null,
      exitSignal: null,
      createdAt: new Date().toISOString(),
      exitedAt: null,
      runtime: options.runtime ?? null,
      resumedFrom: options.resumedFrom ?? null,
    };
    const session = this.adopt(new Session(meta, journal, this.screen, pty, this.screenLag()));
    session.on('exit', () => this.emit('session', 'exited', session.info()));
    this.emit('session', 'created', session.info());
    return session;
  }

  get(id: string): Session {
    const session = this.sessions.get(id);
    if (!session) throw new TowerError('unknown_session', `unknown session: ${id}`);
    return session;
  }

  all(): Session[] {
    return [...this.sessions.values()];
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map((session) => session.info());
  }

  resize(id: string, cols: number, rows: number): void {
    const session = this.get(id);
    session.resize(cols, rows);
    this.emit('session', 'resized', session.info());
  }

  /** Hang up the session's program (SIGKILL after a grace period); resolves once it has exited. */
  close(id: string): Promise<void> {
    const session = this.get(id);
    return session.ended ? Promise.resolve() : endSession(session);
  }

  remove(id: string): void {
    const session = this.get(id);
    if (!session.ended) throw new TowerError('session_running', `session ${id} is running; close it first`);
    this.sessions.delete(id);
    this.dirtyOffsets.delete(session);
    const info = session.info();
    session.dispose();
    session.journal.destroy();
    this.store.remove(id);
    this.emit('session', 'removed', info);
  }

  /** Stop every running session (recording how each ended), then release everything. */
  async shutdown(): Promise<void> {
    clearInterval(this.offsetTimer);
    const running = [...this.sessions.values()].filter((session) => !session.ended);
    await Promise.all(running.map((session) => endSession(session)));
    for (const session of this.sessions.values()) {
      this.save(session);
      session.journal.close();
    }
    this.store.close();
    await this.screen.close();
  }

  private adopt(session: Session): Session {
    this.sessions.set(session.id, session);
    this.save(session);
    session.on('changed', () => this.save(session));
    session.on('output', () => this.dirtyOffsets.add(session));
    session.on('status', () => this.emit('session', 'status', session.info()));
    return session;
  }

  private restore(): void {
    for (const stored of this.store.all()) {
      if (!isSafeSessionId(stored.id)) {
        this.warn(
          `skipping stored session ${JSON.stringify(stored.id)}: unsafe id (its files are left alone)`,
        );
        continue;
      }
      const meta: SessionMeta = { ...stored };
      if (meta.status === 'running') {
        meta.status = 'lost';
        this.lostAtStart.push(meta.id);
      }
      const journal = this.openJournal(meta.id, true);
      this.adopt(new Session(meta, journal, this.screen, null, this.screenLag()));
    }
  }

  private openJournal(id: string, readOnly: boolean): Journal {
    const dir = sessionDir(this.sessionsDir, id);
    if (readOnly && !existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    return Journal.open(dir, {
      ringBytes: this.ringBytes,
      diskCapBytes: this.options.diskCapBytes,
      readOnly,
    });
  }

  /** The emulator may lag the journal by at most half the ring, so a snapshot's offset is always still in memory. */
  private screenLag(): { high: number; low: number } {
    return { high: Math.floor(this.ringBytes / 2), low: Math.floor(this.ringBytes / 4) };
  }

  private save(session: Session): void {
    this.store.save(session.meta, { first: session.journal.start, last: session.journal.end });
  }

  private saveOffsets(): void {
    for (const session of this.dirtyOffsets) this.save(session);
    this.dirtyOffsets.clear();
  }
}

/** The session's directory, which no id can lead out of `sessionsDir`. */
export function sessionDir(sessionsDir: string, id: string): string {
  const dir = join(sessionsDir, id);
  if (!isSafeSessionId(id) || dirname(dir) !== sessionsDir) {
    throw new TowerError('bad_message', `unsafe session id: ${JSON.stringify(id)}`);
  }
  return dir;
}

function endSession(session: Session): Promise<void> {
  return new Promise((resolve) => {
    session.once('exit', () => resolve());
    session.kill('SIGHUP');
    setTimeout(() => {
      if (!session.ended) session.kill('SIGKILL');
    }, KILL_GRACE_MS).unref();
  });
}
