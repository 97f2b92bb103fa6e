/**
 * A session: a program on a PTY, its output journal, its screen model and its subscribers.
 * A session from an earlier daemon run has no PTY: it is exited or lost, its journal read-only.
 */
import { EventEmitter } from 'node:events';
import type { AgentStatus, SessionInfo } from '../protocol/index.js';
import { TowerError } from '../protocol/index.js';
import type { Journal } from '../terminal/journal.js';
import type { PtyExit, PtyProcess, TerminalLink } from '../terminal/pty.js';
import type { ScreenHost, ScreenSnapshot, ScreenText } from '../terminal/screen.js';
import type { SessionMeta } from './meta.js';
import { ScreenFeed } from './screen-feed.js';
import { describeSession, firstAgentStatus } from './session-description.js';
import { SignalTap } from './signal-filter.js';
import { type OutputSink, type SubscribeStart, Subscription } from './subscription.js';

/** Streaming output is coalesced up to this many bytes or this long before it is journaled. */
const COALESCE_BYTES = 64 * 1024;
const COALESCE_MS = 2;
/** A PTY read at least this large means the program is streaming rather than echoing. */
const BULK_READ_BYTES = 2048;
/** Bytes replayed into a fresh emulator to rebuild the screen of a session from an earlier run. */
const REBUILD_BYTES = 2 * 1024 * 1024;
/**
 * When output reaches the screen model. A trickle (an echo, a prompt) 4 ms later in one batch, so the
 * worker's wake-up never competes with the client reading that echo; a stream once it has paused for
 * 50 ms, so the emulator never competes with the byte path for a core (see screen-feed.ts). Anyone
 * asking for the screen has it fed at once.
 */
const SCREEN_BATCH_MS = 4;
const SCREEN_AFTER_STREAM_MS = 50;

interface SessionEvents {
  /** Output was journaled (a coalesced chunk). */
  output: [Buffer];
  exit: [PtyExit];
  changed: [];
  status: [AgentStatus];
  /** Saving output to disk stopped or started working again. */
  journal: [];
  /** The link to its machine changed (sessions on another machine). */
  link: [];
  /** Something went wrong that the session survived (logged by the manager). */
  problem: [string];
  /** A client looked at its screen (an ended session then stays in memory a while longer). */
  used: [];
  /** An in-band status signal's body (JSON text), taken out of the output after what came before it. */
  signal: [Buffer];
}

export class Session extends EventEmitter<SessionEvents> {
  private readonly subscriptions = new Set<Subscription>();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly feed: ScreenFeed;
  private screenReady: boolean;
  /** The program was paused because the screen model was about to lag past what the journal keeps. */
  private pausedForScreen = false;
  private screenTimer: NodeJS.Timeout | undefined;
  private lastBulkAt = 0;
  private exitInfo: PtyExit | null = null;
  /** Takes the agent's in-band status signals out of the output (sessions with a PTY). */
  private readonly signals: SignalTap | null;
  /** Kept current by the agents layer; sessions only carry it. */
  agentStatus: AgentStatus;
  queuedPrompts = 0;
  /** Sessions on another machine: the link to it (null for local ones). */
  link: SessionInfo['link'] = null;

  constructor(
    readonly meta: SessionMeta,
    readonly journal: Journal,
    private readonly screen: ScreenHost,
    private readonly pty: PtyProcess | null,
    /** The session's own key for in-band signals ($TOWER_SIGNAL_KEY). */
    signalKey?: string,
  ) {
    super();
    this.signals = signalKey
      ? new SignalTap(signalKey, {
          output: (chunk) => this.receive(chunk),
          signals: (bodies) => {
            this.flush();
            for (const body of bodies) this.emit('signal', body);
          },
          problem: (message) => this.emit('problem', `${meta.id}: ${message}`),
        })
      : null;
    this.screenReady = pty !== null;
    this.feed = new ScreenFeed(journal, screen, meta.id, journal.end);
    if (meta.status !== 'running' && meta.exitCode !== null) {
      this.exitInfo = { exitCode: meta.exitCode, signal: meta.exitSignal };
    }
    this.agentStatus = firstAgentStatus(meta, this.exitInfo);
    if (pty) {
      screen.create(meta.id, meta.cols, meta.rows, journal.end);
      pty.onData((chunk) => (this.signals ? this.signals.push(chunk) : this.receive(chunk)));
      pty.onExit((exit) => this.finish(exit));
      if (pty.onLink) {
        this.link = { state: 'connected', reason: null, since: new Date().toISOString() };
        pty.onLink((link) => this.linkChanged(link));
      }
      pty.onGap?.((reason) => {
        this.emit('problem', `${meta.id}: ${reason}`);
        // Readers of the output see where it is not whole (a tmux screen restored after a dropped link).
        this.receive(Buffer.from(`\r\n[tower: ${reason.replace(/[\x00-\x1f\x7f]/g, ' ')}]\r\n`));
      });
    }
  }

  get id(): string {
    return this.meta.id;
  }

  get ended(): boolean {
    return this.meta.status !== 'running';
  }

  get exit(): PtyExit | null {
    return this.exitInfo;
  }

  /** Flushes pending output first, so last_offset is a readable offset. */
  info(): SessionInfo {
    this.flush();
    return describeSession(this.meta, this.journal, {
      agent: this.agentStatus,
      queuedPrompts: this.queuedPrompts,
      link: this.link,
    });
  }

  setAgentStatus(status: AgentStatus): void {
    this.agentStatus = status;
    this.emit('status', status);
  }

  /** Name of the terminal's foreground process; null once the program has ended. */
  foregroundProcess(): string | null {
    return this.pty && !this.ended ? this.pty.foregroundProcess() : null;
  }

  /** Type into the program: queued (bounded) while it is not reading; `input_full` past the bound. */
  write(data: Buffer | string): void {
    this.requireLive().write(data);
  }

  /** The screen model's answer to a terminal query; dropped if the program has ended or is not reading. */
  reply(data: string): void {
    if (this.pty && !this.ended) this.pty.reply(data);
  }

  resize(cols: number, rows: number): void {
    const pty = this.requireLive();
    if (cols === this.meta.cols && rows === this.meta.rows) return;
    this.flush();
    pty.resize(cols, rows);
    // The emulator may lag: it resizes after the bytes the program wrote at the old size.
    this.feed.resized(() => this.screen.resize(this.id, cols, rows));
    this.meta.cols = cols;
    this.meta.rows = rows;
    this.emit('changed');
  }

  kill(signal: NodeJS.Signals = 'SIGHUP'): void {
    this.requireLive().kill(signal);
  }

  subscribe(sink: OutputSink, start: SubscribeStart, onError?: (error: unknown) => void): Subscription {
    this.flush();
    const subscription = new Subscription(this, sink, start, onError);
    this.subscriptions.add(subscription);
    return subscription;
  }

  unsubscribe(subscription: Subscription): void {
    subscription.close();
    this.subscriptions.delete(subscription);
  }

  async snapshot(options: { screenOnly?: boolean } = {}): Promise<ScreenSnapshot> {
    this.emit('used');
    this.flush();
    this.ensureScreen();
    await this.screenCaughtUp();
    return this.screen.snapshot(this.id, options);
  }

  async text(): Promise<ScreenText> {
    this.emit('used');
    this.flush();
    this.ensureScreen();
    await this.screenCaughtUp();
    return this.screen.text(this.id);
  }

  /** Bytes of output the screen model has not parsed yet (it lags during a burst). */
  get screenLag(): number {
    return this.feed.lag;
  }

  private screenCaughtUp(): Promise<void> {
    const caughtUp = this.feed.caughtUp(this.journal.end);
    this.feed.pump();
    return caughtUp;
  }

  private readonly feedScreen = (): void => {
    clearTimeout(this.screenTimer);
    this.screenTimer = undefined;
    const streamingFor = SCREEN_AFTER_STREAM_MS - (Date.now() - this.lastBulkAt);
    if (streamingFor > 0 && !this.feed.awaited) {
      this.screenTimer = setTimeout(this.feedScreen, streamingFor);
      return;
    }
    this.feed.held = false;
    this.feed.pump();
  };

  /** The screen worker reports how far it has parsed. */
  screenParsed(offset: number): void {
    this.feed.parsedTo(offset);
    if (this.pausedForScreen && (this.feed.lag <= this.feed.lagLimit / 2 || !this.screen.healthy)) {
      this.pausedForScreen = false;
      this.pty?.resume();
    }
  }

  /**
   * An ended session nobody has looked at for a while: free its screen model and its output held in
   * memory. Both come back from the journal on disk when next needed.
   */
  rest(): void {
    if (!this.ended || !this.screenReady) return;
    this.screenReady = false;
    this.feed.stop();
    this.screen.dispose(this.id);
    this.journal.releaseMemory();
  }

  /** Forget the screen model (the session is being removed or the daemon is stopping). */
  dispose(): void {
    clearTimeout(this.flushTimer);
    clearTimeout(this.screenTimer);
    this.signals?.stop();
    this.feed.stop();
    for (const subscription of this.subscriptions) subscription.close();
    this.subscriptions.clear();
    this.screen.dispose(this.id);
    this.removeAllListeners();
  }

  /**
   * A short read (an echo, a prompt) is flushed at the end of this event-loop turn, so it is not
   * delayed. A bulk read means the program is streaming: wait up to COALESCE_MS or COALESCE_BYTES
   * so a burst costs one journal write, one worker message and one frame per subscriber, not one
   * per 4 KiB read.
   */
  private receive(chunk: Buffer): void {
    if (this.ended) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= COALESCE_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (chunk.length >= BULK_READ_BYTES) this.flushTimer = setTimeout(this.flush, COALESCE_MS);
      else setImmediate(this.flush);
    }
  }

  /**
   * Journal what was read, feed the screen, wake subscribers. Runs from the PTY's data callback and
   * timers: nothing may escape it (the journal itself never fails for the disk's sake).
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.pendingBytes === 0) return;
    const data =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      this.deliver(data);
    } catch (error) {
      this.emit('problem', `output of ${this.id} not delivered: ${(error as Error).message}`);
    }
  };

  /** Subscribers first, the screen model last: nothing that is merely watching delays a reader. */
  private deliver(data: Buffer): void {
    this.journal.append(data);
    for (const subscription of this.subscriptions) subscription.pump();
    if (data.length >= BULK_READ_BYTES) {
      this.lastBulkAt = Date.now();
      this.feed.held = true;
    }
    if (this.screenReady && !this.screenTimer) {
      this.screenTimer = setTimeout(
        this.feedScreen,
        this.feed.held ? SCREEN_AFTER_STREAM_MS : SCREEN_BATCH_MS,
      );
    }
    // The one case where the program waits for the screen model (see ScreenFeed.lagLimit).
    if (!this.pausedForScreen && this.pty && this.screen.healthy && this.feed.lag > this.feed.lagLimit) {
      this.pausedForScreen = true;
      this.pty.pause();
    }
    this.emit('output', data);
  }

  /** The journal's disk state changed (see Journal's onHealthChange). */
  journalChanged(): void {
    this.emit('journal');
  }

  /** Let go of a terminal that outlives this daemon (on another machine): it goes on running there. */
  detach(): void {
    this.flush();
    this.pty?.detach?.();
  }

  private linkChanged(link: TerminalLink): void {
    if (this.ended) return;
    const reason = link.state === 'connected' ? null : link.reason;
    this.link = { state: link.state, reason, since: new Date().toISOString() };
    this.emit('link');
  }

  private finish(exit: PtyExit): void {
    this.signals?.release();
    this.flush();
    this.exitInfo = exit;
    const lost = this.link?.state === 'lost';
    this.meta.status = lost ? 'lost' : 'exited';
    if (lost)
      this.agentStatus = { ...this.agentStatus, state: 'exited', reason: `lost: ${this.link?.reason}` };
    this.meta.exitCode = exit.exitCode;
    this.meta.exitSignal = exit.signal;
    this.meta.exitedAt = new Date().toISOString();
    this.journal.close();
    for (const subscription of this.subscriptions) subscription.pump();
    this.emit('changed');
    this.emit('exit', exit);
  }

  /**
   * Create the screen again from the tail of the journal: for sessions from an earlier daemon run
   * (lazily), and for every session after the screen worker was restarted.
   */
  private rebuildScreen(): void {
    this.flush();
    this.screenReady = true;
    const from = this.journal.nextRetained(Math.max(this.journal.start, this.journal.end - REBUILD_BYTES));
    // Queries in replayed output were answered long ago; only a live program's new ones get answers.
    this.screen.create(this.id, this.meta.cols, this.meta.rows, from, { answerQueries: false });
    this.feed.reset(from, this.ended ? null : this.journal.end);
  }

  /** The screen worker was replaced: live sessions rebuild at once, the others when next asked. */
  screenLost(): void {
    this.screenReady = false;
    if (this.ended) return;
    try {
      this.rebuildScreen();
    } catch (error) {
      this.emit('problem', `screen of ${this.id} not rebuilt: ${(error as Error).message}`);
    }
  }

  private ensureScreen(): void {
    if (!this.screenReady) this.rebuildScreen();
  }

  private requireLive(): PtyProcess {
    if (!this.pty || this.ended) {
      throw new TowerError('session_not_running', `session ${this.id} is ${this.meta.status}`);
    }
    return this.pty;
  }
}
