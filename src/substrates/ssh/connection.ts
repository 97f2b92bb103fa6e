/**
 * SshBox: a box reached over ONE SSH connection, every process a channel on it. The link is kept:
 * keepalives notice a dead one (about 4 × keepalive_ms), a lost one is dialled again at once and then
 * with backoff and jitter (1, 2, 4, 7, 10 s ±20 %) while `connecting`; a refusal that retrying cannot
 * fix (host key, authentication, a bad key file) is `down` and retried slowly, or at once when someone
 * asks for the box. ssh2 reports everything as 'error' events, each handled here: nothing throws out.
 */
import { EventEmitter } from 'node:events';
import type { Client, ClientChannel } from 'ssh2';
import { TowerError } from '../../protocol/index.js';
import type {
  Box,
  BoxEvents,
  BoxLinkState,
  BoxProcess,
  BoxSpawnOptions,
  BoxTerminalOptions,
  BoxTerminalProcess,
} from '../box/types.js';
import type { SshConfig } from './config.js';
import { type Dialed, describeSocketError, dial, LinkFailure } from './connect.js';
import { channelProcess, wrappedCommand } from './process.js';

export interface SshBoxOptions {
  stateDir: string;
  /** Waits between failed attempts while `connecting`; default 1, 2, 4, 7, 10 s (the last repeats). */
  backoffMs?: number[];
  /** Wait between attempts while `down`; default 30 s. */
  downRetryMs?: number;
  /** TCP connect + handshake + authentication; default 15 s. */
  readyTimeoutMs?: number;
}

const BACKOFF_MS = [1000, 2000, 4000, 7000, 10_000];
const JITTER = 0.2;
const DOWN_RETRY_MS = 30_000;
const READY_TIMEOUT_MS = 15_000;
/** A connection that lasted less than this did not really recover: the next attempt backs off. */
const STABLE_MS = 5000;
/** Asking for the box dials at once, but not more often than this. */
const ON_DEMAND_MIN_MS = 1000;
const SPAWN_WAIT_MS = 30_000;

export class SshBox extends EventEmitter<BoxEvents> implements Box {
  readonly name: string;
  private state: BoxLinkState = { state: 'connecting', reason: 'not connected yet' };
  private started = false;
  private connection: Dialed | null = null;
  private dialing: Promise<void> | null = null;
  private lastAttemptEnded = 0;
  private failures = 0;
  private upSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly pendingKills = new Set<number>();
  private openChannels = 0;
  /** Opens refused at the server's channel limit, woken one per channel that closes. */
  private channelWaiters: (() => void)[] = [];
  /** 'settled' after each connection attempt, whatever came of it. */
  private readonly attempts = new EventEmitter();
  private timerAt = 0;

  constructor(
    readonly config: SshConfig,
    private readonly options: SshBoxOptions,
  ) {
    super();
    this.name = config.name;
    this.attempts.setMaxListeners(0);
    this.setMaxListeners(0);
  }

  link(): BoxLinkState {
    return this.state;
  }

  /** Connect, if nothing has asked for the box yet. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.dialNow();
  }

  /**
   * Waiting dials at once (at most once a second), even while `down` or between backoff steps: someone
   * wants the box now. A `down` box that still refuses rejects at once with why.
   */
  async whenUp(timeoutMs = SPAWN_WAIT_MS): Promise<void> {
    this.start();
    if (this.state.state === 'up') return;
    if (this.state.state === 'closed') throw this.unavailable();
    this.dialSoon();
    await new Promise<void>((resolve, reject) => {
      const onLink = (state: BoxLinkState) => {
        if (state.state === 'up') finish(null);
        else if (state.state === 'closed') finish(this.unavailable());
      };
      const onAttempt = () => {
        if (this.state.state === 'down') finish(this.unavailable());
      };
      const timer = setTimeout(() => finish(this.unavailable(`not up after ${timeoutMs} ms`)), timeoutMs);
      const finish = (error: TowerError | null) => {
        clearTimeout(timer);
        this.off('link', onLink);
        this.attempts.off('settled', onAttempt);
        if (error) reject(error);
        else resolve();
      };
      this.on('link', onLink);
      this.attempts.on('settled', onAttempt);
    });
  }

  async spawn(argv: string[], options: BoxSpawnOptions = {}): Promise<BoxProcess> {
    if (argv.length === 0) throw new TowerError('bad_message', 'a program is needed: argv is empty');
    const command = wrappedCommand(argv, options);
    const channel = await this.openChannel((client, done) => client.exec(command, done));
    return channelProcess(channel, this);
  }

  async spawnTerminal(argv: string[], options: BoxTerminalOptions): Promise<BoxTerminalProcess> {
    if (argv.length === 0) throw new TowerError('bad_message', 'a program is needed: argv is empty');
    const command = wrappedCommand(argv, options);
    const pty = {
      cols: options.cols,
      rows: options.rows,
      width: 0,
      height: 0,
      term: options.term ?? 'xterm-256color',
    };
    const channel = await this.openChannel((client, done) => client.exec(command, { pty }, done));
    return {
      ...channelProcess(channel, this, true),
      resize: (cols, rows) => {
        if (channel.writable) channel.setWindow(rows, cols, 0, 0);
      },
    };
  }

  /** End a process group on the box (now, or as soon as the link is back). */
  killGroup(pgid: number): void {
    if (!Number.isSafeInteger(pgid) || pgid <= 1) return;
    const client = this.connection?.client;
    if (!client || this.state.state !== 'up') {
      this.pendingKills.add(pgid);
      return;
    }
    void this.openChannel((open, done) => open.exec(`kill -KILL -- -${pgid}`, done)).then(
      (channel) => {
        channel.on('error', () => {});
        channel.stderr.resume();
        channel.resume();
      },
      () => this.pendingKills.add(pgid),
    );
  }

  drop(reason: string): void {
    if (this.state.state === 'closed') return;
    const dropped = this.connection;
    this.connection = null;
    if (dropped) destroy(dropped);
    this.wakeAllChannelWaiters();
    this.setState({ state: 'connecting', reason });
    void this.dialNow();
  }

  close(): void {
    if (this.state.state === 'closed') return;
    if (this.timer) clearTimeout(this.timer);
    const connection = this.connection;
    this.connection = null;
    if (connection) {
      connection.client.end();
      connection.jump?.end();
    }
    this.setState({ state: 'closed' });
    this.wakeAllChannelWaiters();
  }

  private dialNow(): Promise<void> {
    if (this.state.state === 'closed' || this.state.state === 'up') return Promise.resolve();
    if (this.dialing) return this.dialing;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const attempt = this.attempt().finally(() => {
      this.dialing = null;
      this.lastAttemptEnded = Date.now();
      this.attempts.emit('settled');
    });
    this.dialing = attempt;
    return attempt;
  }

  private async attempt(): Promise<void> {
    let dialed: Dialed;
    try {
      dialed = await dial({
        config: this.config,
        stateDir: this.options.stateDir,
        readyTimeoutMs: this.options.readyTimeoutMs ?? READY_TIMEOUT_MS,
      });
    } catch (error) {
      if (this.state.state === 'closed') return;
      const failure = error instanceof LinkFailure ? error : new LinkFailure((error as Error).message, false);
      if (failure.fatal) {
        this.setState({ state: 'down', reason: failure.message });
        this.retryIn(this.options.downRetryMs ?? DOWN_RETRY_MS);
      } else {
        this.setState({ state: 'connecting', reason: failure.message });
        this.retryIn(this.backoff());
      }
      return;
    }
    if (this.state.state === 'closed') {
      destroy(dialed);
      return;
    }
    this.adopt(dialed);
  }

  private adopt(dialed: Dialed): void {
    const { client, jump } = dialed;
    let lastError: (Error & { level?: string; code?: string }) | null = null;
    const target = `${this.config.host}:${this.config.port}`;
    client.on('error', (error) => {
      lastError ??= error;
    });
    client.on('close', () => {
      const reason = lastError ? describeSocketError(lastError, target) : `connection closed by ${target}`;
      this.lost(dialed, reason);
    });
    jump?.on('error', (error) => {
      lastError ??= Object.assign(new Error(`jump host: ${error.message}`), {
        level: (error as { level?: string }).level,
      });
    });
    jump?.on('close', () => client.destroy());
    this.connection = dialed;
    this.upSince = Date.now();
    this.setState({ state: 'up' });
    const kills = [...this.pendingKills];
    this.pendingKills.clear();
    for (const pgid of kills) this.killGroup(pgid);
  }

  private lost(dialed: Dialed, reason: string): void {
    if (this.connection !== dialed) return;
    this.connection = null;
    destroy(dialed);
    this.wakeAllChannelWaiters();
    if (this.state.state === 'closed') return;
    this.setState({ state: 'connecting', reason });
    if (Date.now() - this.upSince >= STABLE_MS) {
      this.failures = 0;
      void this.dialNow();
    } else this.retryIn(this.backoff());
  }

  /** Dial now, or as soon as the once-a-second limit allows if that is before the next retry. */
  private dialSoon(): void {
    if (this.dialing) return;
    const wait = this.lastAttemptEnded + ON_DEMAND_MIN_MS - Date.now();
    if (wait <= 0) void this.dialNow();
    else if (!this.timer || this.timerAt > Date.now() + wait) this.retryIn(wait);
  }

  private backoff(): number {
    const steps = this.options.backoffMs ?? BACKOFF_MS;
    const base = steps[Math.min(this.failures, steps.length - 1)] ?? 1000;
    this.failures += 1;
    return Math.round(base * (1 - JITTER + Math.random() * 2 * JITTER));
  }

  private retryIn(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.dialNow();
    }, ms);
    this.timer.unref();
  }

  private setState(state: BoxLinkState): void {
    if (state.state === 'up') this.failures = 0;
    const same =
      state.state === this.state.state &&
      ('reason' in state ? state.reason : null) === ('reason' in this.state ? this.state.reason : null);
    this.state = state;
    if (!same) this.emit('link', state);
  }

  /**
   * A channel on the connection. A server at its limit of channels per connection (OpenSSH's
   * MaxSessions, 10 by default) refuses more: the open waits for one of ours to close, then tries again.
   */
  private async openChannel(
    open: (client: Client, done: (error: Error | undefined, channel: ClientChannel) => void) => void,
  ): Promise<ClientChannel> {
    for (;;) {
      await this.whenUp();
      const client = this.connection?.client;
      if (!client) continue;
      this.openChannels += 1;
      let channel: ClientChannel;
      try {
        channel = await new Promise<ClientChannel>((resolve, reject) => {
          try {
            open(client, (error, opened) => (error ? reject(error) : resolve(opened)));
          } catch (error) {
            reject(error);
          }
        });
      } catch (error) {
        this.openChannels -= 1;
        if (isOpenRefused(error) && this.openChannels > 0 && this.connection?.client === client) {
          await new Promise<void>((resolve) => this.channelWaiters.push(resolve));
          continue;
        }
        this.wakeChannelWaiter();
        if (this.connection?.client !== client && this.state.state !== 'closed') continue;
        throw new TowerError(
          'substrate_unavailable',
          `${this.name}: cannot start a program: ${(error as Error).message}`,
        );
      }
      channel.once('close', () => this.channelClosed());
      return channel;
    }
  }

  private channelClosed(): void {
    this.openChannels -= 1;
    this.wakeChannelWaiter();
  }

  private wakeChannelWaiter(): void {
    this.channelWaiters.shift()?.();
  }

  /** The connection went: waiting opens try again on the next one. */
  private wakeAllChannelWaiters(): void {
    const waiters = this.channelWaiters;
    this.channelWaiters = [];
    for (const wake of waiters) wake();
  }

  private unavailable(detail?: string): TowerError {
    const why = 'reason' in this.state ? this.state.reason : this.state.state;
    return new TowerError(
      'substrate_unavailable',
      `substrate ${this.name}: ${detail ? `${detail}: ` : ''}${why}`,
    );
  }
}

function isOpenRefused(error: unknown): boolean {
  return error instanceof Error && /Channel open failure/i.test(error.message);
}

function destroy(dialed: Dialed): void {
  dialed.client.destroy();
  dialed.jump?.destroy();
}
