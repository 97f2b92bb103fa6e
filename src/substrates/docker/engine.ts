/**
 * The docker box: a substrate's container reached through a Docker Engine. The link is the engine's
 * event stream for that container (and a ping, for an engine across a network that could go silent):
 * - up: the engine answers and the container runs;
 * - connecting: the engine does not answer (retried with backoff and jitter, watched again after it
 *   restarts);
 * - down: the container is stopped (it comes back when started) or was removed (what ran in it is gone).
 * A stop, kill or removal from outside is seen as its event arrives.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
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
import type { DockerConfig } from './config.js';
import { DockerContainer } from './container.js';
import { startExec } from './exec-process.js';

export const CONTAINER_STOPPED = 'container stopped';
export const CONTAINER_REMOVED = 'container removed';
export const NOT_PROVISIONED = 'container not provisioned';

const PING_EVERY_MS = 2000;
const PING_TIMEOUT_MS = 2000;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 3000;
const DEFAULT_UP_TIMEOUT_MS = 30_000;

export class DockerBox extends EventEmitter<BoxEvents> implements Box {
  readonly name: string;
  readonly container: DockerContainer;
  private current: BoxLinkState = { state: 'connecting', reason: 'connecting to the Docker Engine' };
  private events: NodeJS.ReadableStream | null = null;
  private readonly sockets = new Set<Socket>();
  private retry: NodeJS.Timeout | null = null;
  private ping: NodeJS.Timeout | null = null;
  private attempt = 0;
  /** The container was seen: its absence now means it was removed, not that it never was. */
  private seen = false;
  private checking: Promise<void> | null = null;
  private checkAgain = false;
  private started = false;
  /** The connection being made, if one is. */
  private connecting: Promise<void> | null = null;
  /** Bumped on every (re)connection, so that a stale stream's end is ignored. */
  private generation = 0;

  constructor(
    readonly config: DockerConfig,
    stateDir?: string,
  ) {
    super();
    this.setMaxListeners(0);
    this.name = config.name;
    this.container = new DockerContainer(config, stateDir);
  }

  link(): BoxLinkState {
    return this.current;
  }

  async whenUp(timeoutMs = DEFAULT_UP_TIMEOUT_MS): Promise<void> {
    this.start();
    if (this.current.state === 'up') return;
    if (this.current.state === 'connecting' && this.retry) this.reconnectNow();
    await new Promise<void>((resolve, reject) => {
      const settle = (state: BoxLinkState) => {
        if (state.state === 'connecting') return false;
        clearTimeout(timer);
        this.off('link', settle);
        if (state.state === 'up') resolve();
        else reject(this.unavailable(state));
        return true;
      };
      const timer = setTimeout(() => {
        this.off('link', settle);
        reject(this.unavailable(this.current, `not reachable after ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      if (!settle(this.current)) this.on('link', settle);
    });
  }

  async spawn(argv: string[], options: BoxSpawnOptions = {}): Promise<BoxProcess> {
    await this.whenUp();
    return this.run({ argv, cwd: options.cwd, env: options.env });
  }

  async spawnTerminal(argv: string[], options: BoxTerminalOptions): Promise<BoxTerminalProcess> {
    await this.whenUp();
    const terminal = { cols: options.cols, rows: options.rows, term: options.term ?? 'xterm-256color' };
    return this.run({ argv, cwd: options.cwd, env: options.env, terminal });
  }

  drop(reason: string): void {
    if (this.current.state === 'closed') return;
    this.started = true;
    this.disconnect();
    this.setLink({ state: 'connecting', reason });
    this.scheduleReconnect();
  }

  close(): void {
    if (this.current.state === 'closed') return;
    this.disconnect();
    this.setLink({ state: 'closed' });
  }

  /**
   * Connects to the engine and watches the container, once: the first use of the box does it, so a
   * process that only lists substrates or manages containers (the control plane) keeps no link.
   */
  start(): void {
    if (this.started || this.current.state === 'closed') return;
    this.started = true;
    this.reconnectNow();
  }

  /** Looks at the container again now (after Tower changed it: provision, wake, sleep, destroy). */
  refresh(): Promise<void> {
    if (this.current.state === 'connecting') return this.connecting ?? Promise.resolve();
    if (this.current.state === 'closed') return Promise.resolve();
    return this.check();
  }

  private async run(spec: Parameters<typeof startExec>[1]): Promise<BoxTerminalProcess> {
    const container = this.container.docker.getContainer(this.container.name);
    try {
      return await startExec(container, spec, this.sockets);
    } catch (error) {
      if (error instanceof TowerError) throw error;
      void this.refresh();
      const said = (error as { json?: { message?: string } }).json?.message;
      if (said) throw new TowerError('substrate_unavailable', `substrate ${this.name}: ${said}`);
      throw this.container.unreachable(error);
    }
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.retry = null;
    try {
      // Not an abort signal: it would cut the stream too, long after it was answered.
      const asked = this.container.docker.getEvents({
        filters: { type: ['container'], container: [this.container.name] },
      } as object);
      const events = await withTimeout(asked, PING_TIMEOUT_MS * 2, (late) => destroyStream(late));
      if (generation !== this.generation) {
        destroyStream(events);
        return;
      }
      this.events = events;
      this.watch(events, generation);
      await this.check();
      if (generation !== this.generation) return;
      this.attempt = 0;
      this.ping = setInterval(() => this.pingEngine(generation), PING_EVERY_MS).unref();
    } catch (error) {
      if (generation !== this.generation || this.current.state === 'closed') return;
      this.lost(`cannot reach the Docker Engine at ${this.container.host}: ${(error as Error).message}`);
    }
  }

  private watch(events: NodeJS.ReadableStream, generation: number): void {
    let partial = '';
    events.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      if (generation === this.generation && lines.some((line) => line.trim() !== '')) void this.check();
    });
    const ended = () => {
      if (generation === this.generation) this.lost('the Docker Engine closed the connection');
    };
    events.on('error', ended);
    events.on('end', ended);
    events.on('close', ended);
  }

  /**
   * The container's state as the link's; serialized, so a burst of events makes at most two looks. A
   * look that a drop or reconnection overtook is not applied; the newer connection's look is.
   */
  private check(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    let generation = this.generation;
    this.checking = (async () => {
      do {
        this.checkAgain = false;
        generation = this.generation;
        const found = await this.container.find(AbortSignal.timeout(PING_TIMEOUT_MS * 2));
        if (generation !== this.generation || !this.events) continue;
        if (!('ours' in found)) {
          // Removed under its sessions: gone, not asleep (what ran in it is lost).
          this.setLink(
            this.seen
              ? { state: 'gone', reason: CONTAINER_REMOVED }
              : { state: 'down', reason: NOT_PROVISIONED },
          );
        } else if (!found.ours) {
          this.setLink({ state: 'down', reason: `container ${this.container.name} is not Tower's` });
        } else {
          this.seen = true;
          this.setLink(found.running ? { state: 'up' } : { state: 'down', reason: CONTAINER_STOPPED });
        }
      } while (this.checkAgain);
    })()
      .catch((error) => {
        if (generation === this.generation) this.lost((error as Error).message);
      })
      .finally(() => {
        this.checking = null;
      });
    return this.checking;
  }

  private pingEngine(generation: number): void {
    const ping = this.container.docker.ping as (options: object) => Promise<unknown>;
    ping.call(this.container.docker, { abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS) }).catch(() => {
      if (generation === this.generation)
        this.lost(`the Docker Engine at ${this.container.host} stopped answering`);
    });
  }

  private lost(reason: string): void {
    if (this.current.state === 'closed') return;
    this.disconnect();
    this.setLink({ state: 'connecting', reason });
    this.scheduleReconnect();
  }

  private disconnect(): void {
    this.generation++;
    if (this.retry) clearTimeout(this.retry);
    if (this.ping) clearInterval(this.ping);
    this.retry = null;
    this.ping = null;
    if (this.events) destroyStream(this.events);
    this.events = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.attempt);
    this.attempt++;
    this.retry = setTimeout(() => this.reconnectNow(), delay * (0.5 + Math.random() / 2));
    this.retry.unref();
  }

  private reconnectNow(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.connecting = this.connect().finally(() => {
      this.connecting = null;
    });
  }

  private setLink(state: BoxLinkState): void {
    const before = this.current;
    if (before.state === 'closed') return;
    if (
      before.state === state.state &&
      ('reason' in before ? before.reason : '') === ('reason' in state ? state.reason : '')
    )
      return;
    this.current = state;
    this.emit('link', state);
  }

  private unavailable(state: BoxLinkState, prefix?: string): TowerError {
    const why = 'reason' in state ? state.reason : state.state;
    return new TowerError(
      'substrate_unavailable',
      `substrate ${this.name}: ${prefix ? `${prefix}: ` : ''}${why}`,
    );
  }
}

function destroyStream(stream: NodeJS.ReadableStream): void {
  (stream as unknown as { destroy?: () => void }).destroy?.();
}

async function withTimeout<T>(promise: Promise<T>, ms: number, discard: (late: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void promise.then(discard, () => {});
      reject(new Error(`no answer in ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
