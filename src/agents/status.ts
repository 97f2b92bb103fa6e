/**
 * Keeps one session's agent status: starting, idle, busy, needs_input, exited.
 *
 * Structured signals (hooks, notify, OSC sequences in the output) are taken as they come and outrank
 * the screen. The screen is read after output settles: a runtime's patterns say dialog, spinner or
 * prompt; quiet for quiet_ms means not busy.
 * The shell is read from the terminal's foreground process instead. A runtime that reports the
 * end of a turn itself is given SIGNAL_WAIT_MS of quiet to do so before the screen decides.
 */
import { basename } from 'node:path';
import type { AgentState, AgentStatus } from '../protocol/index.js';
import { exitReason } from '../sessions/session-description.js';
import { type Clock, type ClockTimer, systemClock } from '../state/clock.js';
import type { AgentSession } from './ports.js';
import {
  askedIn,
  type CompiledPatterns,
  compilePatterns,
  lastContentLine,
  readScreen,
} from './screen-patterns.js';
import { type AgentRuntime, PLAIN_STATUS, type RuntimeSpec, type SignalReading } from './spec.js';

/** Let output settle this long before reading the screen. */
const SETTLE_MS = 120;
const SIGNAL_WAIT_MS = 5000;
/** A shell at its prompt: the foreground process is the shell and nothing printed for this long. */
const SHELL_QUIET_MS = 250;
const PROCESS_POLL_MS = 500;
const OSC_START = Buffer.from('\x1b]');
const OSC_SEQUENCE = /\x1b\](\d+);([^\x07\x1b]*)(?:\x07|\x1b\\)/g;
const OSC_MAX = 512;

export interface StatusChange {
  status: AgentStatus;
  previous: AgentStatus;
  excerpt: string;
}

export class StatusTracker {
  private readonly statusSpec: RuntimeSpec['status'];
  private readonly patterns: CompiledPatterns;
  private lastOutputAt: number;
  private timer: ClockTimer | undefined;
  private timerDue = 0;
  private checking = false;
  private recheck = false;
  private stopped = false;
  private oscCarry = '';
  private dialogSeen = false;
  /** Counts entries into busy or needs_input seen on a channel: a prompt was taken when it moves. */
  activity = 0;

  constructor(
    private readonly session: AgentSession,
    private readonly runtime: AgentRuntime | null,
    private readonly onChange: (change: StatusChange) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.lastOutputAt = clock.now();
    this.statusSpec = runtime?.spec.status ?? PLAIN_STATUS;
    this.patterns = compilePatterns(this.statusSpec);
    session.on('output', this.onOutput);
    if (runtime?.readOsc) session.streamOutput?.();
    session.once('exit', (exit) => {
      this.set('exited', exitReason(exit), 'exit');
      this.stop();
    });
    this.schedule(SETTLE_MS);
  }

  /** Milliseconds since the program last wrote anything. */
  get quietFor(): number {
    return this.clock.now() - this.lastOutputAt;
  }

  get status(): AgentStatus {
    return this.session.agentStatus;
  }

  get state(): AgentState {
    return this.session.agentStatus.state;
  }

  /** Output quiet this long means not busy. */
  get quietMs(): number {
    return this.statusSpec.quiet_ms;
  }

  /** One line of this screen for a notification: the last answer, else the last line of content. */
  excerptOf(text: string): string {
    return lastContentLine(text, this.patterns);
  }

  /** What the dialog on this screen asks, when the runtime's patterns can tell. */
  askedIn(text: string): string | null {
    return askedIn(text, this.patterns);
  }

  /** The last answer a hook or notify call carried, with how many came before it. */
  signalExcerpt = { text: '', count: 0 };

  /** A turn ended without the hook or notify call that carries its answer: the next ones do not wait for it. */
  signalsSilent = false;

  get reportsTurnEnd(): boolean {
    return this.runtime?.statusChannel === 'hooks' || this.runtime?.statusChannel === 'notify+osc';
  }

  /**
   * While a prompt is being pasted, signals are not status: Codex, for one, reports working and
   * idle again for the paste alone. The queue mutes the tracker from the paste to the submit key.
   */
  muted = false;

  /** A hook or notify call, as the runtime read it. */
  signal(reading: SignalReading): void {
    this.apply(reading, 'hook');
  }

  private apply(reading: SignalReading, source: 'hook' | 'osc'): void {
    if (this.state === 'exited' || this.muted) return;
    if (reading.from && !reading.from.includes(this.state)) return;
    if (reading.excerpt && source === 'hook') {
      this.signalExcerpt = { text: reading.excerpt, count: this.signalExcerpt.count + 1 };
      this.signalsSilent = false;
    }
    this.set(reading.state, reading.reason, source, reading.excerpt);
  }

  /** Tower submitted a prompt: the agent is busy until a channel says otherwise. */
  promptSubmitted(): void {
    if (this.state === 'idle' || this.state === 'starting') this.set('busy', 'prompt submitted', 'prompt');
    this.schedule(SETTLE_MS);
  }

  /** Look again soon (input was typed; something may have started). */
  poke(): void {
    this.schedule(SETTLE_MS);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.session.off('output', this.onOutput);
  }

  private readonly onOutput = (data: Buffer): void => {
    this.lastOutputAt = this.clock.now();
    if (this.runtime?.readOsc) this.scanOsc(data);
    this.schedule(SETTLE_MS);
  };

  /** Status sequences in the output stream (Codex's OSC 7501), which may be split across chunks. */
  private scanOsc(data: Buffer): void {
    if (this.oscCarry === '' && data.indexOf(OSC_START) === -1) return;
    const text = this.oscCarry + data.toString('latin1');
    OSC_SEQUENCE.lastIndex = 0;
    let consumed = 0;
    for (let match = OSC_SEQUENCE.exec(text); match; match = OSC_SEQUENCE.exec(text)) {
      consumed = OSC_SEQUENCE.lastIndex;
      const reading = this.runtime!.readOsc!(Number(match[1]), match[2]!);
      if (reading) this.apply(reading, 'osc');
    }
    const open = text.lastIndexOf('\x1b]');
    this.oscCarry = open >= consumed && text.length - open < OSC_MAX ? text.slice(open) : '';
  }

  /** Look at the screen in `delay` ms, unless a look is due sooner already. */
  private schedule(delay: number): void {
    if (this.stopped) return;
    const due = this.clock.now() + delay;
    if (this.timer) {
      if (due >= this.timerDue) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, delay);
  }

  private async check(): Promise<void> {
    if (this.stopped || this.state === 'exited') return;
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    try {
      if (this.runtime?.statusChannel === 'process') await this.checkProcess();
      else await this.checkScreen();
    } catch {
      // The screen is unavailable (worker restarting): the next output or timer looks again.
    } finally {
      this.checking = false;
    }
    if (this.recheck) {
      this.recheck = false;
      this.schedule(SETTLE_MS);
    }
  }

  private async checkProcess(): Promise<void> {
    const foreground = await this.session.foregroundProcess();
    if (foreground === null || this.stopped || this.state === 'exited') return;
    const quietFor = this.quietFor;
    const atPrompt = basename(foreground) === basename(this.session.meta.command);
    if (!atPrompt) this.set('busy', `running ${basename(foreground)}`, 'process');
    else if (quietFor >= SHELL_QUIET_MS) this.set('idle', 'at the shell prompt', 'process');
    if (this.state !== 'idle') this.schedule(atPrompt ? SHELL_QUIET_MS - quietFor + 10 : PROCESS_POLL_MS);
  }

  private async checkScreen(): Promise<void> {
    const screen = await this.session.text();
    if (this.stopped || this.state === 'exited') return;
    const quietFor = this.quietFor;
    const seen = readScreen(screen.text, this.patterns);
    const excerpt = () => this.excerptOf(screen.text);
    const settled = quietFor >= this.quietMs;
    const { state, source } = this.status;

    const structured = source === 'hook' || source === 'osc';
    if (seen?.state === 'needs_input') {
      this.dialogSeen = true;
      this.set('needs_input', seen.line, 'screen', seen.line);
    } else if (seen?.state === 'busy') {
      // A structured channel outranks a spinner: it may be stale, or drawn under a dialog to come.
      if (!structured) this.set('busy', seen.line, 'screen');
    } else if (state === 'needs_input' && this.dialogSeen) {
      // The dialog was on screen and is gone: answered (work goes on) or dismissed (back at the prompt).
      if (settled && (seen?.state === 'idle' || this.patterns.idle.length === 0)) {
        this.set('idle', 'back at the prompt', 'screen', excerpt());
      } else if (source === 'screen') {
        this.set('busy', 'approval answered', 'screen');
      }
    } else if (settled && (state === 'starting' || state === 'busy')) {
      const atPrompt = seen?.state === 'idle' || this.patterns.idle.length === 0;
      const waitForSignal = state === 'busy' && this.reportsTurnEnd && quietFor < SIGNAL_WAIT_MS;
      if (atPrompt && !waitForSignal) {
        this.set('idle', state === 'starting' ? 'ready' : 'output settled', 'screen', excerpt());
      }
    }
    const current = this.state;
    if (current === 'starting' || current === 'busy' || current === 'needs_input') {
      const next = settled
        ? this.reportsTurnEnd
          ? SIGNAL_WAIT_MS - quietFor
          : this.quietMs
        : this.quietMs - quietFor;
      this.schedule(Math.max(SETTLE_MS, next + 10));
    }
  }

  private set(state: AgentState, reason: string, source: AgentStatus['source'], excerpt = ''): void {
    const previous = this.status;
    if (previous.state === 'exited') return;
    if (previous.state === state) {
      // A channel confirms what Tower assumed after a prompt: keep its reason, no new transition.
      if (previous.source === 'prompt' && source !== 'prompt') {
        this.session.setAgentStatus({ ...previous, reason: reason.slice(0, 200), source });
      }
      return;
    }
    if ((state === 'busy' || state === 'needs_input') && source !== 'prompt') this.activity += 1;
    // A signal may announce a dialog before it is drawn: only a dialog seen on screen can be seen to go.
    if (state === 'needs_input') this.dialogSeen = source === 'screen';
    const status: AgentStatus = {
      state,
      reason: reason.slice(0, 200),
      since: new Date(this.clock.now()).toISOString(),
      source,
    };
    this.session.setAgentStatus(status);
    this.onChange({ status, previous, excerpt: excerpt.trim().split('\n')[0]?.slice(0, 200) ?? '' });
  }
}
