/**
 * Owns every session: creates them, restores them after a restart (as exited or lost), persists their
 * metadata and tells watchers what changed. Nothing about the disk or the database can end the daemon
 * or a session: failures are reported, retried, and the session list is rebuilt from the journals when
 * the database is lost.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SessionEventName, SessionInfo } from '../protocol/index.js';
import { TowerError } from '../protocol/index.js';
import { defaultShell, expandHome } from '../substrates/command.js';
import { SubstrateRegistry } from '../substrates/registry.js';
import { NO_ACCESS, type PtyProcess, type SessionAccess } from '../substrates/types.js';
import { Journal } from '../terminal/journal.js';
import { ScreenHost } from '../terminal/screen.js';
import { DEFAULT_JOURNAL_BUDGET_BYTES, DEFAULT_MAX_SESSIONS } from './defaults.js';
import { sessionEnvironment } from './environment.js';
import { enforceJournalBudget } from './journal-budget.js';
import type { SessionMeta } from './meta.js';
import { FailureLog, restoreSessions, SessionFiles } from './persistence.js';
import { Session } from './session.js';
import type { SessionStore } from './store.js';

export interface ManagerOptions {
  stateDir: string;
  ringBytes?: number;
  diskCapBytes?: number;
  /** All journals together on disk; default 2 GiB. */
  journalBudgetBytes?: number;
  scrollback?: number;
  /** Running sessions at most; default 64. */
  maxSessions?: number;
  /** prlimit(1) limits for every session's process, e.g. { nproc: '512', nofile: '4096' }. */
  processLimits?: Record<string, string>;
  /** Where problems found in stored state are reported; default: stderr. */
  warn?: (message: string) => void;
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
  /** Where it runs (a name the substrate registry knows); default local. */
  substrate?: string;
  /** What it may see of the user's own where the substrate hides the rest (`givenEnv`: env's names). */
  access?: Omit<SessionAccess, 'givenEnv'>;
  /** Given by a Tower that runs this session from another machine: its in-band signals are its to take. */
  signalKey?: string;
}

interface ManagerEvents {
  session: [SessionEventName, SessionInfo];
}

const DEFAULT_RING_BYTES = 8 * 1024 * 1024;
const OFFSET_SAVE_INTERVAL_MS = 2000;
/** Ended sessions that keep their screen model and output in memory (the most recently used). */
const WARM_ENDED_SESSIONS = 16;
const KILL_GRACE_MS = 2000;

export class SessionManager extends EventEmitter<ManagerEvents> {
  private readonly sessions = new Map<string, Session>();
  private readonly files: SessionFiles;
  private readonly screen: ScreenHost;
  private readonly ringBytes: number;
  private readonly offsetTimer: NodeJS.Timeout;
  /** Sessions whose metadata must be written again (output moved on, or an earlier write failed). */
  private readonly dirty = new Set<Session>();
  /** Ended sessions holding memory, least recently used first. */
  private readonly warm = new Set<Session>();
  private readonly failures: FailureLog;
  private budgetCheck: NodeJS.Immediate | undefined;
  private readonly warn: (message: string) => void;
  /** Ids of the sessions the last daemon run left running: they became lost at this start. */
  readonly lostAtStart: string[] = [];
  /** Where sessions can run: `local` and those of substrates.json. */
  readonly substrates: SubstrateRegistry;
  /** Sessions whose program is being started (their id taken, counted against the limit). */
  private readonly starting = new Set<string>();

  constructor(private readonly options: ManagerOptions) {
    super();
    // Sessions are many listeners' business (every watching connection): no leak warning past ten.
    this.setMaxListeners(0);
    this.warn = options.warn ?? ((message) => process.stderr.write(`tower: ${message}\n`));
    this.failures = new FailureLog(this.warn);
    const stateDir = resolve(options.stateDir);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    this.files = new SessionFiles(stateDir, this.warn);
    this.substrates = new SubstrateRegistry({ stateDir, log: this.warn });
    this.screen = new ScreenHost({ scrollback: options.scrollback });
    this.screen.onReply = (id, data) => this.sessions.get(id)?.reply(data);
    this.screen.onParsed = (id, offset) => this.sessions.get(id)?.screenParsed(offset);
    this.screen.onRestart = () => {
      for (const session of this.sessions.values()) session.screenLost();
    };
    // Without a screen model nothing will parse again: no one may wait for it.
    this.screen.onFailed = () => {
      for (const session of this.sessions.values()) session.screenParsed(session.journal.end);
    };
    for (const meta of restoreSessions(this.files, this.warn)) {
      if (meta.status === 'running' && this.reattach(meta)) continue;
      if (meta.status === 'running') {
        meta.status = 'lost';
        this.lostAtStart.push(meta.id);
      }
      this.adopt(new Session(meta, this.openJournal(meta.id, true), this.screen, null));
    }
    this.enforceBudget();
    this.offsetTimer = setInterval(() => this.saveDirty(), OFFSET_SAVE_INTERVAL_MS);
    this.offsetTimer.unref();
  }

  /**
   * A session on another machine outlives this daemon: read it on from where its journal ends (the
   * machine replays what this daemon had not saved yet). False when its substrate cannot.
   */
  private reattach(meta: SessionMeta): boolean {
    const substrate = this.substrates.all().find((candidate) => candidate.name === meta.substrate);
    if (!substrate?.remote) return false;
    const journal = this.openJournal(meta.id, false);
    let pty: PtyProcess;
    try {
      pty = substrate.reattach(meta.id, {
        offset: journal.end,
        command: meta.command,
        cols: meta.cols,
        rows: meta.rows,
      });
    } catch (error) {
      this.warn(`session ${meta.id} on ${meta.substrate} not reattached: ${(error as Error).message}`);
      journal.close();
      return false;
    }
    const session = this.adopt(new Session(meta, journal, this.screen, pty, meta.signalKey ?? undefined));
    session.on('exit', () => this.emit('session', 'exited', session.info()));
    return true;
  }

  private isRemote(session: Session): boolean {
    return (
      this.substrates.all().find((candidate) => candidate.name === session.meta.substrate)?.remote === true
    );
  }

  get stateDir(): string {
    return this.files.stateDir;
  }

  /** tower.db, for the agents layer's own tables. */
  get database(): SessionStore['database'] {
    return this.files.store.database;
  }

  newId(): string {
    let id: string;
    do id = randomBytes(4).toString('hex');
    while (this.sessions.has(id) || this.starting.has(id));
    return id;
  }

  /** Start a program on its substrate (default local); resolves once it runs, its session listed. */
  async create(options: CreateOptions): Promise<Session> {
    const id = options.id ?? this.newId();
    if (this.sessions.has(id) || this.starting.has(id)) {
      throw new TowerError('session_exists', `session ${id} already exists`);
    }
    const limit = this.options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    const running = this.all().filter((session) => !session.ended).length + this.starting.size;
    if (running >= limit) {
      throw new TowerError(
        'too_many_sessions',
        `${running} sessions are running, the most this daemon allows (tower serve --max-sessions); end one first`,
      );
    }
    const substrate = this.substrates.get(options.substrate);
    // On another machine `~` and the paths are that machine's: its own session host resolves them.
    const cwd = substrate.remote
      ? (options.cwd ?? '~')
      : resolve(expandHome(options.cwd ?? process.env.HOME ?? process.cwd()));
    // Its hooks sign their in-band status signals with it: printed output cannot pass for one.
    const signalKey = options.signalKey ?? randomBytes(16).toString('hex');
    const env = sessionEnvironment(process.env, options.env, {
      sessionId: id,
      stateDir: this.files.stateDir,
      signalKey,
    });
    const command = options.command ?? defaultShell();
    const cols = options.cols ?? 80;
    const rows = options.rows ?? 24;
    const access = { ...NO_ACCESS, ...options.access, givenEnv: Object.keys(options.env ?? {}) };
    const journal = this.openJournal(id, false);
    this.starting.add(id);
    let pty: PtyProcess;
    try {
      pty = await substrate.openPty({
        sessionId: id,
        signalKey,
        command,
        args: options.args ?? [],
        cwd,
        env,
        cols,
        rows,
        limits: this.options.processLimits,
        access,
      });
    } catch (error) {
      journal.destroy();
      throw error instanceof TowerError
        ? error
        : new TowerError('internal', `cannot start ${command}: ${(error as Error).message}`);
    } finally {
      this.starting.delete(id);
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
      substrate: substrate.name,
      signalKey: substrate.remote && !options.signalKey ? signalKey : null,
    };
    // A key given by another Tower: the signals pass through, for it to take out.
    const tapKey = options.signalKey ? undefined : signalKey;
    const session = this.adopt(new Session(meta, journal, this.screen, pty, tapKey));
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

  rename(id: string, name: string): void {
    const session = this.get(id);
    session.meta.name = name === '' ? null : name;
    this.save(session);
    this.emit('session', 'renamed', session.info());
  }

  remove(id: string): void {
    const session = this.get(id);
    if (!session.ended) throw new TowerError('session_running', `session ${id} is running; close it first`);
    this.sessions.delete(id);
    this.dirty.delete(session);
    this.warm.delete(session);
    const info = session.info();
    session.dispose();
    session.journal.destroy();
    this.failures.attempt(`forget ${id}`, () => this.files.forget(id));
    this.emit('session', 'removed', info);
  }

  /**
   * Stop every running session of this machine (recording how each ended), then release everything.
   * Sessions on another machine run on there: the next start reattaches them.
   */
  async shutdown(): Promise<void> {
    clearInterval(this.offsetTimer);
    clearImmediate(this.budgetCheck);
    const running = [...this.sessions.values()].filter((session) => !session.ended);
    const local = running.filter((session) => !this.isRemote(session));
    for (const session of running) if (!local.includes(session)) session.detach();
    await Promise.all(local.map((session) => endSession(session)));
    for (const session of this.sessions.values()) {
      this.save(session);
      session.journal.close();
    }
    this.files.close();
    this.substrates.close();
    await this.screen.close();
  }

  private adopt(session: Session): Session {
    this.sessions.set(session.id, session);
    this.save(session);
    session.on('changed', () => this.save(session));
    session.on('output', () => this.dirty.add(session));
    session.on('status', () => this.emit('session', 'status', session.info()));
    session.on('link', () => this.emit('session', 'link', session.info()));
    session.on('journal', () => this.emit('session', 'journal', session.info()));
    session.on('problem', (message) => this.warn(message));
    session.on('exit', () => this.touch(session));
    session.on('used', () => this.touch(session));
    return session;
  }

  /** Keep a recently used ended session in memory; past the limit, the least recently used rests. */
  private touch(session: Session): void {
    if (!session.ended) return;
    this.warm.delete(session);
    this.warm.add(session);
    for (const oldest of this.warm) {
      if (this.warm.size <= WARM_ENDED_SESSIONS) break;
      this.warm.delete(oldest);
      oldest.rest();
    }
  }

  private openJournal(id: string, readOnly: boolean): Journal {
    return Journal.open(this.files.journalDir(id), {
      ringBytes: this.ringBytes,
      diskCapBytes: this.options.diskCapBytes,
      readOnly,
      warn: this.warn,
      onHealthChange: () => this.sessions.get(id)?.journalChanged(),
      onNewSegment: () => this.scheduleBudgetCheck(),
    });
  }

  private scheduleBudgetCheck(): void {
    this.budgetCheck ??= setImmediate(() => {
      this.budgetCheck = undefined;
      this.enforceBudget();
    });
  }

  private enforceBudget(): void {
    const limit = this.options.journalBudgetBytes ?? DEFAULT_JOURNAL_BUDGET_BYTES;
    const sessions = this.all().map((session) => ({
      journal: session.journal,
      ended: session.ended,
      since: session.meta.exitedAt ?? session.meta.createdAt,
    }));
    if (enforceJournalBudget(limit, sessions) > 0)
      for (const session of this.sessions.values()) this.dirty.add(session);
  }

  /** Write a session's metadata; a failure (a full disk) is reported once and retried with the next save. */
  private save(session: Session): void {
    const ok = this.failures.attempt('save session metadata', () =>
      this.files.save(session.meta, { first: session.journal.start, last: session.journal.end }),
    );
    if (ok) this.dirty.delete(session);
    else this.dirty.add(session);
  }

  private saveDirty(): void {
    for (const session of [...this.dirty]) this.save(session);
  }
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
