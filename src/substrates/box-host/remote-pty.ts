/**
 * A session in the session host of a box, as a PtyProcess: the terminal the local session drives. Its
 * output is the box host's, byte for byte and offset for offset (it is created there with the same id
 * and read from offset 0), so after a dropped link or a restart of Tower it resumes from exactly the
 * offset it had reached: nothing lost, nothing twice.
 */
import { basename } from 'node:path';
import type { ClosedEvent, OutputEvent, TowerClient } from '../../client/client.js';
import { type SessionInfo, TowerError } from '../../protocol/index.js';
import { MAX_INPUT_QUEUE_BYTES } from '../../protocol/limits.js';
import type { PtyExit, PtyProcess, TerminalLink } from '../../terminal/pty.js';
import { terminalClosed } from '../../terminal/pty.js';
import type { BoxHost } from './link.js';

/** Input held while the link is down, or unsent on it, past which `input_full`. */
const HELD_INPUT_LIMIT = MAX_INPUT_QUEUE_BYTES;
/** How long a new session waits for the box's host before the spawn fails. */
const OPEN_TIMEOUT_MS = 30_000;
/** Input sent in one acknowledged request at most. */
const INPUT_BATCH_BYTES = 256 * 1024;
/** After the box's program had no room for input, how long before it is offered again. */
const INPUT_RETRY_MS = 20;

export interface RemoteSpec {
  command: string;
  args: string[];
  /** As given (`~` is the box user's home); the box's host resolves it. */
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
  /** The local session's in-band signal key: the box's host leaves those signals in the output. */
  signalKey?: string;
}

export class RemotePty implements PtyProcess {
  pid = 0;
  /** The box host's offset of the next byte this terminal expects. */
  private offset: number;
  private client: TowerClient | null = null;
  private ended = false;
  private paused = false;
  private killRequested = false;
  private size: { cols: number; rows: number };
  private early: Buffer[] = [];
  private heldInput: Buffer[] = [];
  private heldBytes = 0;
  private sending = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private dataListener: ((chunk: Buffer) => void) | null = null;
  private exitListener: ((exit: PtyExit) => void) | null = null;
  private earlyExit: PtyExit | null = null;
  private linkListeners: ((link: TerminalLink) => void)[] = [];
  private gapListeners: ((reason: string) => void)[] = [];
  private readonly onOutput = (event: OutputEvent) => this.output(event);
  private readonly onClosed = (event: ClosedEvent) => {
    if (event.sessionId === this.id) this.finish({ exitCode: event.exitCode ?? 0, signal: event.signal });
  };
  private readonly onUp = (client: TowerClient, sessions: SessionInfo[]) => this.connect(client, sessions);
  private readonly onDown = (reason: string) => this.disconnected(reason);
  private readonly onGone = (reason: string) => this.lose(reason);

  private constructor(
    private readonly host: BoxHost,
    readonly id: string,
    private readonly command: string,
    from: number,
    size: { cols: number; rows: number },
  ) {
    this.offset = from;
    this.size = size;
  }

  /** A new session on the box's host; resolves once it runs there. */
  static async open(host: BoxHost, id: string, spec: RemoteSpec): Promise<RemotePty> {
    const client = await host.client(OPEN_TIMEOUT_MS);
    const created = await client
      .createSession({
        id,
        shell: spec.command,
        args: spec.args,
        cwd: spec.cwd,
        env: spec.env,
        cols: spec.cols,
        rows: spec.rows,
        signal_key: spec.signalKey,
      })
      .catch((error: { code?: string }) => {
        // Unanswered: it may run there all the same, with no session here to show or end it.
        if (error.code === 'disconnected' || error.code === 'protocol') host.discard(id);
        throw error;
      });
    const pty = new RemotePty(host, id, spec.command, 0, spec);
    pty.pid = created.pid;
    pty.listen();
    pty.connect(client, null);
    return pty;
  }

  /** A session that outlived Tower (or its link): read on from `from` once the box's host answers. */
  static resume(
    host: BoxHost,
    id: string,
    command: string,
    from: number,
    size: { cols: number; rows: number },
  ): RemotePty {
    const pty = new RemotePty(host, id, command, from, size);
    pty.listen();
    const state = host.state();
    if (state.state === 'up') pty.connect(state.client, state.sessions);
    else host.start();
    return pty;
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListener = listener;
    for (const chunk of this.early.splice(0)) listener(chunk);
  }

  onExit(listener: (exit: PtyExit) => void): void {
    this.exitListener = listener;
    if (this.earlyExit) listener(this.earlyExit);
  }

  onLink(listener: (link: TerminalLink) => void): void {
    this.linkListeners.push(listener);
    const state = this.host.state();
    if (!this.ended && state.state === 'down' && !this.client) {
      listener({ state: 'disconnected', reason: state.reason });
    }
  }

  onGap(listener: (reason: string) => void): void {
    this.gapListeners.push(listener);
  }

  write(data: Buffer | string): void {
    if (this.ended) throw terminalClosed();
    this.send(Buffer.from(data), true);
  }

  reply(data: Buffer | string): void {
    if (this.ended || !this.client) return;
    this.send(Buffer.from(data), false);
  }

  resize(cols: number, rows: number): void {
    if (this.ended) throw terminalClosed();
    this.size = { cols, rows };
    this.client?.resize(this.id, cols, rows).catch(() => {});
  }

  /** Stop streaming: the box's host journals on meanwhile, and resume reads on from the offset. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.client?.unsubscribe(this.id).catch(() => {});
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.client) this.subscribe(this.client);
  }

  kill(): void {
    if (this.ended) return;
    this.killRequested = true;
    this.client?.close(this.id).catch(() => {});
  }

  detach(): void {
    this.ended = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.unlisten();
    this.client?.off('output', this.onOutput);
    this.client?.off('closed', this.onClosed);
    this.client = null;
  }

  foregroundProcess(): string {
    return basename(this.command);
  }

  private listen(): void {
    this.host.on('up', this.onUp);
    this.host.on('down', this.onDown);
    this.host.on('gone', this.onGone);
  }

  private unlisten(): void {
    this.host.off('up', this.onUp);
    this.host.off('down', this.onDown);
    this.host.off('gone', this.onGone);
  }

  /** `sessions`: what the box's host had when this connection began (null: this one was just made there). */
  private connect(client: TowerClient, sessions: SessionInfo[] | null): void {
    if (this.ended || this.client === client) return;
    const there = sessions?.find((session) => session.id === this.id);
    if (sessions && (!there || there.status === 'lost')) {
      const why = there ? 'stopped while it ran' : 'no longer has it';
      this.lose(`the session host on ${this.host.name} ${why}`);
      return;
    }
    if (there) this.pid = there.pid ?? this.pid;
    this.client = client;
    client.on('output', this.onOutput);
    client.on('closed', this.onClosed);
    for (const listener of this.linkListeners) listener({ state: 'connected' });
    client.resize(this.id, this.size.cols, this.size.rows).catch(() => {});
    if (this.killRequested) client.close(this.id).catch(() => {});
    this.pump();
    if (!this.paused) this.subscribe(client);
  }

  private subscribe(client: TowerClient): void {
    client
      .subscribe(this.id, { fromOffset: this.offset })
      .catch((error: { code?: string; message: string }) => {
        if (client !== this.client || this.ended) return;
        if (error.code === 'unknown_session') this.lose(`the box's session host no longer has it`);
        else if (error.code === 'offset_not_retained') this.skipTo(client);
        // A link that dropped meanwhile: the next connect subscribes again.
      });
  }

  /** The box's host let go of output it had not delivered (its own retention): read on from what it keeps. */
  private skipTo(client: TowerClient): void {
    void client.list().then((sessions) => {
      const found = sessions.find((session) => session.id === this.id);
      if (!found || client !== this.client) return;
      const missed = found.first_offset - this.offset;
      for (const listener of this.gapListeners)
        listener(`${missed} bytes of output were not kept on the box`);
      this.offset = found.first_offset;
      this.subscribe(client);
    });
  }

  private output(event: OutputEvent): void {
    if (event.sessionId !== this.id || this.ended || event.offset === undefined) return;
    let data = event.data;
    if (event.offset + data.length <= this.offset) return;
    if (event.offset < this.offset) data = data.subarray(this.offset - event.offset);
    else if (event.offset > this.offset) {
      for (const listener of this.gapListeners)
        listener(`${event.offset - this.offset} bytes of output were skipped`);
    }
    this.offset = Math.max(this.offset, event.offset) + data.length;
    if (this.dataListener) this.dataListener(data);
    else this.early.push(data);
  }

  private send(data: Buffer, hold: boolean): void {
    if (!hold) {
      // A terminal's answer to a query: behind waiting input it would come too late, so it is dropped.
      if (this.heldBytes === 0 && this.client && !this.client.disconnected) this.client.input(this.id, data);
      return;
    }
    if (this.heldBytes + data.length > HELD_INPUT_LIMIT) {
      throw new TowerError(
        'input_full',
        `the link to ${this.host.name} is down or slow, or the program there is not reading: ` +
          `${this.heldBytes} bytes of input wait`,
      );
    }
    this.heldInput.push(data);
    this.heldBytes += data.length;
    this.pump();
  }

  /**
   * Input goes out one acknowledged batch at a time: the box's host refuses what its program has not
   * read room for (`input_full`), and that batch is offered again rather than lost, ahead of what was
   * typed after it. Keystrokes on an idle session go out at once.
   */
  private pump(): void {
    const client = this.client;
    if (this.sending || this.retryTimer || !client || client.disconnected || this.heldInput.length === 0)
      return;
    const batch = Buffer.concat(this.heldInput.splice(0));
    const now = batch.subarray(0, INPUT_BATCH_BYTES);
    if (now.length < batch.length) this.heldInput.push(batch.subarray(now.length));
    this.sending = true;
    const done = (sent: boolean) => {
      this.sending = false;
      if (sent) this.heldBytes -= now.length;
      else this.heldInput.unshift(now);
    };
    client.write(this.id, now).then(
      () => {
        done(true);
        this.pump();
      },
      (error: { code?: string }) => {
        if (this.ended) return;
        if (error.code === 'input_full' && client === this.client) {
          done(false);
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.pump();
          }, INPUT_RETRY_MS);
          return;
        }
        // The link dropped with it unanswered (it may have arrived: not sent twice), or the session
        // there is gone: what was typed after it waits for the next connection.
        done(true);
        this.pump();
      },
    );
  }

  private disconnected(reason: string): void {
    if (this.ended) return;
    if (this.client) {
      this.client.off('output', this.onOutput);
      this.client.off('closed', this.onClosed);
      this.client = null;
    }
    for (const listener of this.linkListeners) listener({ state: 'disconnected', reason });
  }

  private lose(reason: string): void {
    if (this.ended) return;
    for (const listener of this.linkListeners) listener({ state: 'lost', reason });
    this.finish({ exitCode: 0, signal: null });
  }

  private finish(exit: PtyExit): void {
    if (this.ended) return;
    this.ended = true;
    this.unlisten();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    if (client) {
      client.off('output', this.onOutput);
      client.off('closed', this.onClosed);
      // The box keeps nothing it no longer needs: the output is in the local journal now.
      client.remove(this.id).catch(() => {});
    }
    if (this.exitListener) this.exitListener(exit);
    else this.earlyExit = exit;
  }
}
