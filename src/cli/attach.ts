/**
 * `tower attach`: the local terminal becomes a view of the session.
 * The screen is painted from a snapshot, then bytes follow from the snapshot's offset.
 *
 * Size: the session takes this terminal's size when attach starts and whenever the user types here
 * (the most recently active client owns it). While another client owns a larger size, the view fits
 * it (see attach-view.ts) until the user types.
 *
 * Daemon restarts: attach keeps the screen as it is and says in the window title that it waits, then
 * resubscribes from the next offset it needs; a session that did not survive shows its last screen.
 */
import { ClientError, type ConnectOptions, TowerClient } from '../client/client.js';
import { connectWhenBack } from '../client/reconnect.js';
import type { DaemonMessageOf, SessionInfo } from '../protocol/index.js';
import { releaseTerminal, SessionView, type Size, TITLE_RESTORE, titleWhileAway } from './attach-view.js';
import { DetachKeyFilter } from './detach-key.js';
import { escapeControls } from './escape.js';
import { QueryReplyFilter } from './query-replies.js';

export async function attach(options: ConnectOptions, ref: string, detachKey: number): Promise<number> {
  const client = await TowerClient.connect(options);
  let session: SessionInfo;
  try {
    session = await client.resolveSession(ref);
  } catch (error) {
    client.end();
    throw error;
  }
  return new Attachment(options, client, session, detachKey).run();
}

class Attachment {
  private readonly stdin = process.stdin;
  private readonly stdout = process.stdout;
  private readonly id: string;
  private readonly live: boolean;
  private readonly view: SessionView;
  private readonly replies = new QueryReplyFilter();
  private readonly keys: DetachKeyFilter;
  private readonly stopWaiting = new AbortController();
  private done: (code: number) => void = () => {};
  private finished = false;
  private away = false;
  /** The next output offset to show; output below it is already on screen. */
  private next = 0;
  /** Output is dropped until the snapshot asked for arrives (it holds everything before it). */
  private awaitingSnapshot = true;
  /** This terminal owns the session's size until another client's resize arrives. */
  private owner = true;
  private requested: Size | null = null;
  private sessionSize: Size;
  /** What to say when the session's end arrives, instead of "exited". */
  private endNote: string | null = null;

  constructor(
    private readonly options: ConnectOptions,
    private client: TowerClient,
    info: SessionInfo,
    detachKey: number,
  ) {
    this.id = info.id;
    this.live = info.status === 'running';
    this.sessionSize = { cols: info.cols, rows: info.rows };
    const keyName = `Ctrl-${String.fromCharCode(detachKey + 0x40)}`;
    this.view = new SessionView(this.stdout, `type to take the size; ${keyName} detaches`);
    this.keys = new DetachKeyFilter(detachKey, (event) => {
      if (event.type === 'detach') this.detach();
      else this.typed(event.data);
    });
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.done = resolve;
      if (this.live) {
        if (this.stdin.isTTY) this.stdin.setRawMode(true);
        this.stdin.resume();
        this.stdin.on('data', this.onKeys);
        this.stdout.on('resize', this.onLocalResize);
      }
      this.connected(this.client, { snapshot: true }).catch((error: Error) =>
        this.finish(`tower: ${escapeControls(error.message)}`, 1),
      );
    });
  }

  private local(): Size {
    return { cols: this.stdout.columns || 80, rows: this.stdout.rows || 24 };
  }

  /** Listen on a (new) connection, take the size if ours (of a running session), and subscribe. */
  private async connected(
    client: TowerClient,
    start: { snapshot?: boolean; fromOffset?: number },
    running = this.live,
  ): Promise<void> {
    this.client = client;
    client.on('snapshot', (snapshot) => this.onSnapshot(client, snapshot));
    client.on('output', ({ sessionId, offset, data }) => {
      if (client === this.client && sessionId === this.id) this.onOutput(offset, data);
    });
    client.on('session_event', ({ event, session }) => {
      if (client === this.client && session.id === this.id && event === 'resized')
        this.onSessionResized(session);
    });
    client.on('closed', ({ sessionId, exitCode, signal }) => {
      if (client !== this.client || sessionId !== this.id) return;
      const how = signal ? `signal ${signal}` : `code ${exitCode}`;
      this.finish(
        this.endNote ?? `[session ${this.id} ${this.live ? 'exited' : 'is not running'} (${how})]`,
        0,
      );
    });
    client.on('disconnect', () => {
      if (client === this.client) this.daemonAway();
    });
    if (running && this.owner) await this.takeSize();
    if (running) await client.watch();
    this.awaitingSnapshot = start.snapshot === true;
    await client.subscribe(this.id, start);
  }

  private onSnapshot(client: TowerClient, snapshot: DaemonMessageOf<'snapshot'>): void {
    if (client !== this.client || snapshot.session_id !== this.id) return;
    this.awaitingSnapshot = false;
    this.next = snapshot.offset;
    this.sessionSize = { cols: snapshot.cols, rows: snapshot.rows };
    this.view.paint(snapshot);
  }

  private onOutput(offset: number | undefined, data: Buffer): void {
    if (this.awaitingSnapshot || offset === undefined) return;
    if (offset + data.length <= this.next) return;
    const fresh = offset < this.next ? data.subarray(this.next - offset) : data;
    this.next = offset + data.length;
    // Only a terminal that sees the program's queries answers them (the fitted view draws cells).
    if (!this.view.fitted) this.replies.sawOutput(fresh);
    this.view.output(fresh);
  }

  private onSessionResized(session: SessionInfo): void {
    this.sessionSize = { cols: session.cols, rows: session.rows };
    const ours = this.requested?.cols === session.cols && this.requested.rows === session.rows;
    if (!ours) this.owner = false;
    if (this.view.resized(this.sessionSize)) this.repaint();
  }

  private readonly onLocalResize = () => {
    if (this.away || this.finished) return;
    if (this.owner) {
      this.takeSize().catch(() => {});
      return;
    }
    if (this.view.resized()) this.repaint();
  };

  /** Switching between passing bytes and the fitted view starts again from a fresh snapshot. */
  private repaint(): void {
    this.awaitingSnapshot = true;
    this.client.subscribe(this.id, { snapshot: true }).catch(() => {});
  }

  private async takeSize(): Promise<void> {
    // Not on a terminal: there is no size to give.
    if (!this.stdout.isTTY) return;
    const local = this.local();
    this.owner = true;
    if (this.sessionSize.cols === local.cols && this.sessionSize.rows === local.rows) {
      this.requested = local;
      return;
    }
    this.requested = local;
    await this.client.resize(this.id, local.cols, local.rows);
  }

  private readonly onKeys = (chunk: Buffer) => this.keys.push(chunk);

  /** Keys for the program: typing makes this terminal the size owner again. */
  private typed(data: Buffer): void {
    const input = this.replies.filterInput(data);
    if (input.length === 0 || this.away || this.finished) return;
    const local = this.local();
    if (!this.owner || this.sessionSize.cols !== local.cols || this.sessionSize.rows !== local.rows) {
      this.takeSize().catch(() => {});
    }
    this.client.input(this.id, input);
  }

  private detach(): void {
    if (!this.away) this.client.unsubscribe(this.id).catch(() => {});
    this.finish(`[detached from ${this.id}; it keeps running]`, 0);
  }

  private daemonAway(): void {
    if (this.finished) return;
    this.away = true;
    this.stdout.write(
      titleWhileAway(`tower: the daemon went away; waiting for it to come back (${escapeControls(this.id)})`),
    );
    this.reconnect().catch((error: unknown) => {
      if (this.finished) return;
      this.finish(`[tower: ${escapeControls(error instanceof Error ? error.message : String(error))}]`, 1);
    });
  }

  private async reconnect(): Promise<void> {
    const client = await connectWhenBack(this.options, this.stopWaiting.signal);
    if (this.finished) {
      client.end();
      return;
    }
    this.away = false;
    this.stdout.write(TITLE_RESTORE);
    const info = (await client.list()).find((session) => session.id === this.id);
    if (!info) {
      client.end();
      throw new ClientError('unknown_session', `session ${this.id} is gone`);
    }
    if (info.status !== 'running') {
      // The program ended with the old daemon: show its last screen and say so.
      this.endNote =
        info.status === 'lost'
          ? `[session ${this.id} was lost: the daemon stopped while it ran; its last screen is above]`
          : `[session ${this.id} exited while the daemon was away]`;
      await this.connected(client, { snapshot: true }, false);
      return;
    }
    await this.connected(client, this.view.fitted ? { snapshot: true } : { fromOffset: this.next });
  }

  private finish(message: string, code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.keys.cancel();
    this.stopWaiting.abort();
    releaseTerminal(this.view, { keys: this.onKeys, resize: this.onLocalResize }, this.away, message);
    this.client.end();
    this.done(code);
  }
}
