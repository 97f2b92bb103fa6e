/**
 * Tower's own session host on a box, reached through one bridge process (`tower host bridge`) over the
 * box's link: every session on the box is multiplexed on that one connection. When it drops (the SSH
 * connection, the container's exec stream), the sessions go on running in the box's host; once the
 * link is back a new bridge is started and each session resumes from the offset it had reached, so a
 * reconnect loses and repeats nothing.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientError, TowerClient } from '../../client/client.js';
import { type SessionInfo, TowerError } from '../../protocol/index.js';
import type { Box, BoxProcess } from '../box/types.js';

/** Retries of a bridge that failed while the box's link is up: 1, 2, 4, 7, 10 s, ±20 %. */
const BACKOFF_MS = [1000, 2000, 4000, 7000, 10_000];
const BRIDGE_READY_MS = 30_000;
/** Kept of the bridge's stderr, for the reason it failed. */
const STDERR_TAIL = 2048;

export interface BoxHostOptions {
  box: Box;
  /** The argv that runs `tower` on the box with its state dir (`node bin/tower.js --state-dir DIR`). */
  tower: () => Promise<string[]>;
  backoffMs?: number[];
}

export interface BoxHostEvents {
  /** The box itself is gone (a removed container): its sessions are lost. */
  gone: [string];
  /** With the sessions the box's host has (read once per connection). */
  up: [TowerClient, SessionInfo[]];
  down: [string];
}

export type BoxHostState =
  | { state: 'up'; client: TowerClient; sessions: SessionInfo[] }
  | { state: 'down'; reason: string };

export class BoxHost extends EventEmitter<BoxHostEvents> {
  private current: BoxHostState = { state: 'down', reason: 'not connected yet' };
  private running = false;
  private closed = false;
  private bridge: BoxProcess | null = null;
  /** Sessions whose creation failed with the link: ended on the box once it is reached again. */
  private readonly unwanted = new Set<string>();

  constructor(private readonly options: BoxHostOptions) {
    super();
    this.setMaxListeners(0);
    options.box.on('link', (link) => {
      if (link.state === 'gone') this.emit('gone', link.reason);
    });
  }

  get name(): string {
    return this.options.box.name;
  }

  state(): BoxHostState {
    return this.current;
  }

  /** Start keeping the link (idempotent). */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.keep();
  }

  /** The connected client, waiting up to timeoutMs for the link; throws `substrate_unavailable` past it. */
  async client(timeoutMs: number): Promise<TowerClient> {
    this.start();
    if (this.current.state === 'up') return this.current.client;
    const reason = this.current.reason;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const [client] = (await EventEmitter.once(this, 'up', { signal })) as [TowerClient];
      return client;
    } catch {
      const now = this.current.state === 'down' ? this.current.reason : reason;
      throw new TowerError('substrate_unavailable', `cannot reach the session host on ${this.name}: ${now}`);
    }
  }

  /**
   * A session this Tower gave up on while the box may have started it (the link failed during its
   * create_session): it is closed and removed there, now or once the box is reached again.
   */
  discard(sessionId: string): void {
    this.unwanted.add(sessionId);
    // Not by the list read when this connection began: the session was made after it.
    const current = this.current;
    if (current.state === 'up' && !current.client.disconnected) this.endUnwanted(current.client, null);
  }

  private endUnwanted(client: TowerClient, sessions: SessionInfo[] | null): void {
    for (const id of [...this.unwanted]) {
      if (sessions && !sessions.some((session) => session.id === id)) {
        this.unwanted.delete(id);
        continue;
      }
      void client
        .close(id)
        .then(() => client.remove(id))
        .then(
          () => this.unwanted.delete(id),
          (error: { code?: string }) => {
            if (error.code === 'unknown_session') this.unwanted.delete(id);
          },
        );
    }
  }

  /** End the bridge now, as a dropped link would (tests, reconnect). */
  drop(): void {
    this.bridge?.kill();
  }

  close(): void {
    this.closed = true;
    this.bridge?.kill();
  }

  /**
   * Close once no session is read through this host any more (each listens for 'up'). A substrate
   * made anew from an edited entry lets the old one go this way: its running sessions stream on.
   */
  closeWhenIdle(then: () => void): void {
    const idle = () => this.listenerCount('up') === 0;
    const untyped = this as EventEmitter;
    const check = () => {
      if (!idle()) return;
      untyped.off('removeListener', check);
      this.close();
      then();
    };
    untyped.on('removeListener', check);
    check();
  }

  private async keep(): Promise<void> {
    const backoff = this.options.backoffMs ?? BACKOFF_MS;
    let failures = 0;
    while (!this.closed) {
      const reason = await this.connectOnce().catch((error: Error) => error.message);
      if (this.closed) break;
      this.setDown(reason);
      if (this.options.box.link().state !== 'up') {
        failures = 0;
        await this.options.box.whenUp(24 * 3600_000).catch(() => sleep(1000));
        continue;
      }
      const base = backoff[Math.min(failures++, backoff.length - 1)]!;
      await sleep(base * (0.8 + Math.random() * 0.4));
    }
    this.setDown('closed');
  }

  /** One bridge, from start to end; resolves with why it ended. */
  private async connectOnce(): Promise<string> {
    const box = this.options.box;
    await box.whenUp(24 * 3600_000);
    const argv = [...(await this.options.tower()), 'host', 'bridge'];
    const bridge = await box.spawn(argv);
    this.bridge = bridge;
    let stderr = '';
    bridge.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    bridge.stderr.on('error', () => {});
    const stream = Duplex.from({ readable: bridge.stdout, writable: bridge.stdin });
    stream.on('error', () => {});
    const ended = bridge.exit.then(({ code, signal }) => {
      const said = stderr.trim().split('\n').at(-1);
      return said
        ? `the bridge ended: ${said}`
        : `the bridge ended (${signal ? `signal ${signal}` : `code ${code}`})`;
    });
    let client: TowerClient;
    try {
      client = await Promise.race([
        TowerClient.overAuthenticated(stream),
        ended.then((why) => Promise.reject(new Error(why))),
        sleep(BRIDGE_READY_MS).then(() => Promise.reject(new Error('the bridge did not answer in 30 s'))),
      ]);
    } catch (error) {
      bridge.kill();
      const message = error instanceof ClientError ? error.message : (error as Error).message;
      return message;
    }
    client.on('error', () => {});
    // Every session on the box listens to this one connection.
    client.setMaxListeners(0);
    let sessions: SessionInfo[];
    try {
      sessions = await client.list();
    } catch (error) {
      bridge.kill();
      return (error as Error).message;
    }
    this.current = { state: 'up', client, sessions };
    this.endUnwanted(client, sessions);
    this.emit('up', client, sessions);
    await new Promise<void>((resolve) => {
      client.once('disconnect', resolve);
      void bridge.exit.then(() => resolve());
    });
    // Destroyed, not ended: a bridge that is gone never closes its side, and every request still
    // waiting on it (a create_session under way) must fail now rather than wait forever.
    stream.destroy();
    bridge.kill();
    this.bridge = null;
    const link = box.link();
    return link.state === 'up' || link.state === 'closed' ? await ended : link.reason;
  }

  private setDown(reason: string): void {
    const wasUp = this.current.state === 'up';
    this.current = { state: 'down', reason };
    if (wasUp || reason === 'closed') this.emit('down', reason);
  }
}
