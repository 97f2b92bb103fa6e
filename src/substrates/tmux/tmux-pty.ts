/**
 * A session's program in a tmux window on a box, as a PtyProcess. Its output comes from the box's one
 * control channel (TmuxHost routes `%output` by pane), its input goes out as `send-keys -H`.
 *
 * The pane runs the program under a small sh wrapper (WRAPPER) because tmux 3.3 destroys a pane as soon
 * as its process exits, dropping what it had not yet read from the terminal or sent to control clients.
 * The wrapper keeps the pane alive after the program ends and prints, in band, after the program's last
 * byte, a title carrying the exit status: once Tower has seen it every byte before it has arrived, and
 * only then is the window killed. The program runs as a job of its own (`set -m`), so it is the
 * terminal's foreground process (its name is `#{pane_current_command}`, Ctrl-C reaches it alone) and
 * its pid, printed by the wrapper, is where `kill` sends a signal.
 */
import { constants } from 'node:os';
import { TowerError } from '../../protocol/index.js';
import { MAX_INPUT_QUEUE_BYTES } from '../../protocol/limits.js';
import { type PtyExit, type PtyProcess, type TerminalLink, terminalClosed } from '../../terminal/pty.js';
import { inputFull } from '../../terminal/pty-input.js';
import type { Answer } from './control.js';
import { MarkerFilter } from './pane-wrapper.js';

/** Input per `send-keys` command: tmux 3.3 takes time quadratic in its arguments (4096 keys: 0.6 s). */
const SEND_BATCH = 512;
const SENDS_IN_FLIGHT = 2;
/** Output held (paused, or no listener yet) past which the whole channel stops reading tmux. */
export const HELD_HIGH_WATER = 1024 * 1024;

/** What a TmuxPty needs of the box's control channel. */
export interface PaneHost {
  command(line: string): Promise<Answer>;
  /** This pane holds more than HELD_HIGH_WATER (true) or has let go of it (false). */
  holding(pty: TmuxPty, over: boolean): void;
  /** The window is gone: stop routing to this pane. */
  forget(pty: TmuxPty): void;
}

export interface PaneRef {
  sessionId: string;
  windowId: string;
  paneId: string;
  nonce: string;
  /** The program, for foregroundProcess until tmux has named it. */
  command: string;
}

export type TmuxPtyState = 'live' | 'disconnected' | 'exited';

/** A shell status as a PtyExit: above 128 the program died of signal status - 128. */
export function exitFromStatus(status: number): PtyExit {
  if (status > 128 && status <= 128 + 64) return { exitCode: 0, signal: status - 128 };
  return { exitCode: status, signal: null };
}

export class TmuxPty implements PtyProcess {
  private programPid = 0;
  private state: TmuxPtyState = 'live';
  private readonly filter: MarkerFilter;
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private overHighWater = false;
  private paused = false;
  private dataListener: ((chunk: Buffer) => void) | null = null;
  private exitListener: ((exit: PtyExit) => void) | null = null;
  private ended: PtyExit | null = null;
  private exitReported = false;
  /** Input sent since the pane last printed anything (tmux queues input without bound: see write). */
  private unacknowledged = 0;
  /** Input not yet handed to tmux. */
  private unsent: Buffer[] = [];
  private sendsInFlight = 0;
  private pendingKill: NodeJS.Signals | null = null;
  private foreground: string;
  private readonly gapListeners: ((reason: string) => void)[] = [];
  private unheardGap: string | null = null;
  private readonly stateListeners: ((state: TmuxPtyState, reason: string) => void)[] = [];
  private readonly lostListeners: ((reason: string) => void)[] = [];
  /** How its screen came to be: `spawn` (every byte seen) or `capture` (restored: a gap before it). */
  restoredFrom: 'spawn' | 'capture' = 'spawn';

  constructor(
    private readonly host: PaneHost,
    readonly pane: PaneRef,
  ) {
    this.filter = new MarkerFilter(pane.nonce);
    this.foreground = pane.command.split('/').pop() || pane.command;
  }

  get pid(): number {
    return this.programPid;
  }

  get linkState(): TmuxPtyState {
    return this.state;
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListener = listener;
    this.flush();
  }

  onExit(listener: (exit: PtyExit) => void): void {
    this.exitListener = listener;
    this.flush();
  }

  /** The output between what was last delivered and a restored screen is unknown (see reattach). */
  onGap(listener: (reason: string) => void): void {
    this.gapListeners.push(listener);
    // A reattached pane's gap came before anyone could listen; its screen is still held for onData.
    if (this.unheardGap !== null) {
      listener(this.unheardGap);
      this.unheardGap = null;
    }
  }

  /** `disconnected` when the control channel breaks, `live` again once a new one reattached it. */
  onStateChange(listener: (state: TmuxPtyState, reason: string) => void): void {
    this.stateListeners.push(listener);
  }

  /** The same, as the session layer reads a link. */
  onLink(listener: (link: TerminalLink) => void): void {
    this.lostListeners.push((reason) => listener({ state: 'lost', reason }));
    this.onStateChange((state, reason) => {
      if (state === 'disconnected') listener({ state: 'disconnected', reason });
      else if (state === 'live') listener({ state: 'connected' });
    });
  }

  /**
   * tmux takes input without bound and says nothing of what the program has read, so what counts as
   * waiting is the input sent since the pane last printed (an echo or a redraw shows the program, or
   * at least its terminal, took it): past MAX_INPUT_QUEUE_BYTES of it, `input_full`.
   */
  write(data: Buffer | string): void {
    if (this.ended || this.state === 'exited') throw terminalClosed();
    if (this.state === 'disconnected') {
      throw new TowerError('substrate_unavailable', 'the link to its box is down; try again once it is back');
    }
    const bytes = Buffer.from(data);
    if (this.unacknowledged + bytes.length > MAX_INPUT_QUEUE_BYTES) {
      throw inputFull(this.unacknowledged, MAX_INPUT_QUEUE_BYTES);
    }
    this.send(bytes);
  }

  /** Dropped: tmux is this program's terminal and answers its queries (DA, cursor position) itself. */
  reply(): void {}

  resize(cols: number, rows: number): void {
    if (this.ended) throw terminalClosed();
    void this.host.command(`resize-window -t ${this.pane.windowId} -x ${cols} -y ${rows}`).catch(() => {});
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  kill(signal: NodeJS.Signals = 'SIGHUP'): void {
    if (this.ended) return;
    if (constants.signals[signal] === undefined) throw new TowerError('bad_message', `no signal ${signal}`);
    if (this.programPid === 0) {
      this.pendingKill = signal;
      return;
    }
    const name = signal.replace(/^SIG/, '');
    void this.host.command(`run-shell -b "kill -s ${name} ${this.programPid} 2>/dev/null"`).catch(() => {});
  }

  foregroundProcess(): string {
    return this.foreground;
  }

  // ---- fed by TmuxHost ----

  /** Bytes tmux read from the pane. */
  receive(data: Buffer): void {
    if (this.ended) return;
    this.unacknowledged = 0;
    const { data: clean, pid, exitStatus } = this.filter.push(data);
    if (clean.length > 0) this.hold(clean);
    if (pid !== null) this.learnPid(pid);
    if (exitStatus !== null) this.end(exitFromStatus(exitStatus));
    this.flush();
  }

  /** The wrapper itself died (killed from outside): tmux kept the pane, dead, with its status. */
  paneDied(exit: PtyExit): void {
    if (this.ended) return;
    this.end(exit);
    this.flush();
  }

  /** The window was closed by someone else: as a hangup. */
  windowClosed(): void {
    this.host.forget(this);
    if (this.ended) return;
    this.ended = { exitCode: 0, signal: constants.signals.SIGHUP };
    this.flush();
  }

  learnPid(pid: number): void {
    this.programPid = pid;
    void this.host.command(`set-option -w -t ${this.pane.windowId} @tower_pid ${pid}`).catch(() => {});
    if (this.pendingKill) {
      const signal = this.pendingKill;
      this.pendingKill = null;
      this.kill(signal);
    }
  }

  setForeground(name: string): void {
    if (name !== '') this.foreground = name;
  }

  /** The control channel broke: nothing in or out until a new one reattaches this pane. */
  disconnect(reason: string): void {
    if (this.state !== 'live' || this.ended) return;
    this.state = 'disconnected';
    this.unsent = [];
    for (const listener of this.stateListeners) listener('disconnected', reason);
  }

  /** The box itself is gone (a removed container): the pane with it. Ends as lost, with the reason. */
  lose(reason: string): void {
    if (this.ended) return;
    for (const listener of this.lostListeners) listener(reason);
    this.ended = { exitCode: 0, signal: null };
    this.unsent = [];
    this.host.forget(this);
    this.flush();
  }

  /**
   * A screen restored from capture-pane, delivered first; `reason` says what was lost before it. After it
   * the pane streams live again (`exitStatus`: the program had already ended).
   */
  restore(screen: Buffer, reason: string, exitStatus: PtyExit | null): void {
    this.restoredFrom = 'capture';
    this.filter.reset();
    if (this.gapListeners.length === 0) this.unheardGap = reason;
    for (const listener of this.gapListeners) listener(reason);
    this.hold(screen);
    const wasDisconnected = this.state === 'disconnected';
    this.state = 'live';
    if (wasDisconnected) for (const listener of this.stateListeners) listener('live', reason);
    if (exitStatus) this.end(exitStatus);
    this.flush();
  }

  // ---- internals ----

  private learnExit(): void {
    // The window is of no more use once the exit and every byte before it are known.
    void this.host.command(`kill-window -t ${this.pane.windowId}`).catch(() => {});
    this.host.forget(this);
  }

  private end(exit: PtyExit): void {
    this.ended = exit;
    this.unsent = [];
    this.learnExit();
  }

  private hold(data: Buffer): void {
    this.held.push(data);
    this.heldBytes += data.length;
    if (!this.overHighWater && this.heldBytes > HELD_HIGH_WATER) {
      this.overHighWater = true;
      this.host.holding(this, true);
    }
  }

  private flush(): void {
    // At the exit everything goes out, paused or not: a terminal is drained before its exit.
    if (this.dataListener && (!this.paused || this.ended)) {
      const chunks = this.held.splice(0);
      this.heldBytes = 0;
      for (const chunk of chunks) this.dataListener(chunk);
      if (this.overHighWater) {
        this.overHighWater = false;
        this.host.holding(this, false);
      }
    }
    if (this.ended && this.held.length === 0 && this.exitListener && !this.exitReported) {
      this.exitReported = true;
      this.state = 'exited';
      this.exitListener(this.ended);
    }
  }

  private send(bytes: Buffer): void {
    this.unacknowledged += bytes.length;
    this.unsent.push(bytes);
    this.pumpInput();
  }

  /**
   * At most SENDS_IN_FLIGHT commands of input at a time: a large paste then never fills the channel's
   * queue ahead of other sessions' commands, and keys typed meanwhile go out together.
   */
  private pumpInput(): void {
    while (this.sendsInFlight < SENDS_IN_FLIGHT && this.unsent.length > 0 && !this.ended) {
      let batch = Buffer.concat(this.unsent.splice(0));
      if (batch.length > SEND_BATCH) {
        this.unsent.push(batch.subarray(SEND_BATCH));
        batch = batch.subarray(0, SEND_BATCH);
      }
      const hex = [...batch].map((b) => b.toString(16)).join(' ');
      this.sendsInFlight++;
      void this.host
        .command(`send-keys -H -t ${this.pane.paneId} ${hex}`)
        .catch(() => {})
        .finally(() => {
          this.sendsInFlight--;
          this.pumpInput();
        });
    }
  }
}
