/**
 * A terminal that is still being reached: reattach must hand the session a terminal at once, but
 * finding a tmux pane again takes a round trip over the link. Until it arrives the session sees a
 * disconnected link; what it asks meanwhile (input, a size, a kill) is kept and passed on, input
 * bounded. If it cannot be reached, the session is lost, with the reason.
 */
import { basename } from 'node:path';
import { TowerError } from '../../protocol/index.js';
import { MAX_INPUT_QUEUE_BYTES } from '../../protocol/limits.js';
import type { PtyExit, PtyProcess, TerminalLink } from '../../terminal/pty.js';
import { terminalClosed } from '../../terminal/pty.js';

export class DeferredPty implements PtyProcess {
  private real: PtyProcess | null = null;
  private failed = false;
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private size: { cols: number; rows: number } | null = null;
  private paused = false;
  private killWith: NodeJS.Signals | null = null;
  private dataListener: ((chunk: Buffer) => void) | null = null;
  private exitListener: ((exit: PtyExit) => void) | null = null;
  private readonly linkListeners: ((link: TerminalLink) => void)[] = [];
  private readonly gapListeners: ((reason: string) => void)[] = [];

  constructor(
    pending: Promise<PtyProcess>,
    private readonly command: string,
    waitingFor: string,
  ) {
    this.link({ state: 'disconnected', reason: waitingFor });
    pending.then(
      (real) => this.arrived(real),
      (error: Error) => {
        this.failed = true;
        this.link({ state: 'lost', reason: error.message });
        this.exitListener?.({ exitCode: 0, signal: null });
      },
    );
  }

  get pid(): number {
    return this.real?.pid ?? 0;
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListener = listener;
    this.real?.onData(listener);
  }

  onExit(listener: (exit: PtyExit) => void): void {
    this.exitListener = listener;
    if (this.real) this.real.onExit(listener);
    else if (this.failed) listener({ exitCode: 0, signal: null });
  }

  onLink(listener: (link: TerminalLink) => void): void {
    this.linkListeners.push(listener);
    if (this.real) this.real.onLink?.(listener);
    else
      listener(
        this.failed
          ? { state: 'lost', reason: 'not reached' }
          : { state: 'disconnected', reason: 'reattaching' },
      );
  }

  onGap(listener: (reason: string) => void): void {
    this.gapListeners.push(listener);
    this.real?.onGap?.(listener);
  }

  write(data: Buffer | string): void {
    if (this.real) {
      this.real.write(data);
      return;
    }
    if (this.failed) throw terminalClosed();
    const bytes = Buffer.from(data);
    if (this.heldBytes + bytes.length > MAX_INPUT_QUEUE_BYTES) {
      throw new TowerError(
        'input_full',
        `${this.heldBytes} bytes of input wait for the session to be reached`,
      );
    }
    this.held.push(bytes);
    this.heldBytes += bytes.length;
  }

  reply(data: Buffer | string): void {
    this.real?.reply(data);
  }

  resize(cols: number, rows: number): void {
    if (this.real) {
      this.real.resize(cols, rows);
      return;
    }
    if (this.failed) throw terminalClosed();
    this.size = { cols, rows };
  }

  pause(): void {
    this.paused = true;
    this.real?.pause();
  }

  resume(): void {
    this.paused = false;
    this.real?.resume();
  }

  kill(signal?: NodeJS.Signals): void {
    if (this.real) {
      this.real.kill(signal);
      return;
    }
    this.killWith = signal ?? 'SIGHUP';
  }

  foregroundProcess(): string {
    return this.real?.foregroundProcess() ?? basename(this.command);
  }

  detach(): void {
    this.real?.detach?.();
  }

  private link(link: TerminalLink): void {
    for (const listener of this.linkListeners) listener(link);
  }

  private arrived(real: PtyProcess): void {
    this.real = real;
    // Gaps first: a reattached pane reports its gap before the screen it restores.
    for (const listener of this.gapListeners) real.onGap?.(listener);
    for (const listener of this.linkListeners) real.onLink?.(listener);
    this.link({ state: 'connected' });
    if (this.paused) real.pause();
    if (this.dataListener) real.onData(this.dataListener);
    if (this.exitListener) real.onExit(this.exitListener);
    if (this.size) real.resize(this.size.cols, this.size.rows);
    for (const bytes of this.held.splice(0)) real.write(bytes);
    this.heldBytes = 0;
    if (this.killWith) real.kill(this.killWith);
  }
}
