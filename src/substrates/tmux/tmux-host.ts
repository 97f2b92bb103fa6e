/**
 * Tower's sessions on a box without Node, as tmux windows driven over one control channel per box.
 * Every session is a window `tower-<id>` in the tmux session `tower` the control client is attached to
 * (tmux sends a control client the output of its own session's panes only, and a window made there
 * streams from its first byte). Its first window, `keeper`, keeps the server alive with no sessions.
 *
 * When the channel breaks (the link dropped, the client was killed) every open TmuxPty turns
 * `disconnected`; a new channel, opened once the box's link is up again, reattaches each of them: its
 * screen is restored from `capture-pane` (a gap: what it printed meanwhile is known only as a screen)
 * and it streams live again. After a Tower restart `reattach` adopts a window the same way.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { TowerError } from '../../protocol/index.js';
import type { PtyExit } from '../../terminal/pty.js';
import type { Box } from '../box/types.js';
import {
  type Answer,
  type ControlOptions,
  formatLiteral,
  TmuxControl,
  TOWER_SESSION,
  tmuxQuote,
} from './control.js';
import { WRAPPER } from './pane-wrapper.js';
import { exitFromStatus, type PaneHost, TmuxPty } from './tmux-pty.js';

export interface TmuxHostOptions extends ControlOptions {
  /** How often the panes' foreground processes and deaths are read; default 1000 ms. */
  pollMs?: number;
}

export interface TmuxOpenSpec {
  sessionId: string;
  command: string;
  args: string[];
  /** Absolute on the box. */
  cwd: string;
  /** Set in the program's environment (TERM defaults to xterm-256color). */
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export interface TmuxSessionInfo {
  sessionId: string;
  windowId: string;
  paneId: string;
  /** The wrapper's pane is gone (killed from outside), or the program has exited. */
  ended: boolean;
  foreground: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WINDOW_FIELDS = [
  'window_id',
  'pane_id',
  'window_name',
  'pane_dead',
  'pane_dead_status',
  'pane_dead_signal',
  'pane_current_command',
  'pane_title',
  '@tower_nonce',
  '@tower_pid',
] as const;
const WINDOW_FORMAT = WINDOW_FIELDS.map((field) => `#{${field}}`).join('\t');
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5000;

type WindowRow = Record<(typeof WINDOW_FIELDS)[number], string>;

const hosts = new WeakMap<Box, Map<string, TmuxHost>>();

export class TmuxHost implements PaneHost {
  private control: TmuxControl | null = null;
  private connecting: Promise<TmuxControl> | null = null;
  private readonly panes = new Map<string, TmuxPty>();
  private readonly windows = new Map<string, TmuxPty>();
  /** Panes being restored: their output until the capture is dropped (it is in it), then held. */
  private readonly restoring = new Map<string, Buffer[] | null>();
  private readonly holders = new Set<TmuxPty>();
  private pollTimer: NodeJS.Timeout | undefined;
  private closedByTower = false;

  private constructor(
    readonly box: Box,
    private readonly options: TmuxHostOptions,
  ) {}

  /** The one host (and so the one control channel) of a box and tmux socket. */
  static for(box: Box, options: TmuxHostOptions = {}): TmuxHost {
    const socket = options.socket ?? 'tower';
    let bySocket = hosts.get(box);
    if (!bySocket) {
      bySocket = new Map();
      hosts.set(box, bySocket);
    }
    let host = bySocket.get(socket);
    if (!host) {
      host = new TmuxHost(box, { ...options, socket });
      bySocket.set(socket, host);
    }
    return host;
  }

  /** The control channel, started (and the server with it) if needed. */
  async channel(): Promise<TmuxControl> {
    if (this.control && this.control.closed === null) return this.control;
    if (this.closedByTower) throw new TowerError('substrate_unavailable', 'tmux: closed by Tower');
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  async open(spec: TmuxOpenSpec): Promise<TmuxPty> {
    const name = windowName(spec.sessionId);
    const control = await this.channel();
    const nonce = randomBytes(8).toString('hex');
    const env = { TERM: 'xterm-256color', ...spec.env };
    const envFlags = Object.entries(env).map(([key, value]) => {
      if (!VARIABLE.test(key))
        throw new TowerError('bad_message', `not a variable name: ${JSON.stringify(key)}`);
      return `-e ${tmuxQuote(`${key}=${value}`)}`;
    });
    const argv = ['/bin/sh', '-c', WRAPPER, name, nonce, spec.command, ...spec.args];
    // A detached window takes the session's default size: set just before, so it starts at its own.
    await control.command(`set-option -t ${TOWER_SESSION} default-size ${size(spec.cols, spec.rows)}`);
    let pty: TmuxPty | undefined;
    const line =
      `new-window -d -t ${TOWER_SESSION}: -n ${name} -P -F "#{window_id} #{pane_id}" ` +
      `-c ${tmuxQuote(formatLiteral(spec.cwd))} ${envFlags.join(' ')} -- ${argv.map(tmuxQuote).join(' ')}`;
    await control.command(line, (answer) => {
      // Registered as the answer is parsed: the pane's first %output may follow in the same read.
      const [windowId = '', paneId = ''] = (answer.text()[0] ?? '').split(' ');
      pty = new TmuxPty(this, { sessionId: spec.sessionId, windowId, paneId, nonce, command: spec.command });
      this.track(pty);
      // Sent before anything that answers its output (a quick exit kills the window): in order, first.
      // A window sized by command keeps its size whoever attaches (window-size manual).
      for (const follow of [
        `set-option -w -t ${windowId} @tower_nonce ${nonce}`,
        `resize-window -t ${windowId} -x ${spec.cols} -y ${spec.rows}`,
      ]) {
        void control.command(follow).catch(() => {});
      }
    });
    if (!pty) throw new TowerError('substrate_unavailable', 'tmux made no window');
    return pty;
  }

  /** Adopt the window of a session that outlived Tower (or its link): its screen first, then live. */
  async reattach(sessionId: string, cols: number, rows: number): Promise<TmuxPty> {
    const name = windowName(sessionId);
    const existing = [...this.windows.values()].find((pty) => pty.pane.sessionId === sessionId);
    if (existing) return existing;
    const control = await this.channel();
    const row = (await this.windowRows(control)).find((r) => r.window_name === name);
    if (!row) throw new TowerError('session_not_running', `no tmux window ${name} on ${this.box.name}`);
    const pty = new TmuxPty(this, {
      sessionId,
      windowId: row.window_id,
      paneId: row.pane_id,
      nonce: row['@tower_nonce'],
      command: row.pane_current_command,
    });
    if (/^\d+$/.test(row['@tower_pid'])) pty.learnPid(Number(row['@tower_pid']));
    this.track(pty);
    await control.command(`resize-window -t ${row.window_id} -x ${cols} -y ${rows}`);
    await this.restore(
      control,
      pty,
      'reattached after Tower restarted: output before this screen is unknown',
    );
    return pty;
  }

  /** Tower's sessions in tmux on the box, for adoption. */
  async list(): Promise<TmuxSessionInfo[]> {
    const rows = await this.windowRows(await this.channel());
    return rows
      .filter((row) => row.window_name.startsWith('tower-'))
      .map((row) => ({
        sessionId: row.window_name.slice('tower-'.length),
        windowId: row.window_id,
        paneId: row.pane_id,
        ended: row.pane_dead === '1' || exitFromTitle(row) !== null,
        foreground: row.pane_current_command,
      }));
  }

  /** Let go of the channel (tmux and its sessions keep running; `kill` ends the client process). */
  close(): void {
    this.closedByTower = true;
    clearInterval(this.pollTimer);
    this.control?.close('closed by Tower');
    hosts.get(this.box)?.delete(this.options.socket ?? 'tower');
  }

  // ---- PaneHost ----

  command(line: string): Promise<Answer> {
    if (!this.control || this.control.closed !== null) {
      return Promise.reject(new TowerError('substrate_unavailable', 'tmux: the link to its box is down'));
    }
    return this.control.command(line);
  }

  holding(pty: TmuxPty, over: boolean): void {
    if (over) this.holders.add(pty);
    else this.holders.delete(pty);
    if (this.holders.size > 0) this.control?.pauseReading();
    else this.control?.resumeReading();
  }

  forget(pty: TmuxPty): void {
    if (this.panes.get(pty.pane.paneId) === pty) this.panes.delete(pty.pane.paneId);
    if (this.windows.get(pty.pane.windowId) === pty) this.windows.delete(pty.pane.windowId);
    this.holding(pty, false);
  }

  // ---- internals ----

  private track(pty: TmuxPty): void {
    this.panes.set(pty.pane.paneId, pty);
    this.windows.set(pty.pane.windowId, pty);
    if (!this.pollTimer) {
      this.pollTimer = setInterval(this.poll, this.options.pollMs ?? 1000);
      this.pollTimer.unref();
    }
  }

  private async connect(): Promise<TmuxControl> {
    const control = await TmuxControl.start(this.box, this.options);
    control.on('output', (pane, data) => {
      const restoring = this.restoring.get(pane);
      if (restoring === null) return;
      if (restoring) restoring.push(data);
      else this.panes.get(pane)?.receive(data);
    });
    control.on('notification', (name, args) => {
      if (name === 'window-close' || name === 'unlinked-window-close') this.windows.get(args)?.windowClosed();
    });
    control.on('closed', (reason) => this.channelClosed(control, reason));
    this.control = control;
    return control;
  }

  private channelClosed(control: TmuxControl, reason: string): void {
    if (this.control !== control) return;
    this.control = null;
    this.restoring.clear();
    this.holders.clear();
    for (const pty of this.panes.values()) pty.disconnect(reason);
    if (!this.closedByTower) void this.reconnect();
  }

  /** Once the box is reachable again: a new channel, and every session on it restored. */
  private async reconnect(): Promise<void> {
    for (let delay = RECONNECT_FIRST_MS; !this.closedByTower; delay = Math.min(RECONNECT_MAX_MS, delay * 2)) {
      if (this.box.link().state === 'closed') return;
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
      try {
        await this.box.whenUp(RECONNECT_MAX_MS);
        const control = await this.channel();
        const rows = await this.windowRows(control);
        for (const pty of [...this.panes.values()]) {
          const row = rows.find((r) => r.pane_id === pty.pane.paneId);
          if (row)
            await this.restore(control, pty, 'the link to tmux broke: output before this screen is unknown');
          else pty.paneDied({ exitCode: 0, signal: constants.signals.SIGHUP });
        }
        return;
      } catch {
        // The box is not back yet: try again later.
      }
    }
  }

  /** The pane's screen from capture-pane, then its live output; the program's exit if it has ended. */
  private async restore(control: TmuxControl, pty: TmuxPty, reason: string): Promise<void> {
    const pane = pty.pane.paneId;
    this.restoring.set(pane, null);
    const fields = '#{cursor_x},#{cursor_y},#{alternate_on}';
    try {
      const capture = control.command(`capture-pane -p -e -J -S - -t ${pane}`, () => {
        // Output after this point is not in the capture: held until the screen has gone out.
        this.restoring.set(pane, []);
      });
      const cursor = control.command(`display -p -t ${pane} "${fields}"`);
      const rows = this.windowRows(control);
      const [lines, [position = '0,0,0'], row] = await Promise.all([
        capture.then((a) => a.lines),
        cursor.then((a) => a.text()),
        rows.then((all) => all.find((r) => r.pane_id === pane)),
      ]);
      const [x = 0, y = 0, alternate = 0] = position.split(',').map(Number);
      const screen = Buffer.concat([
        Buffer.from(alternate ? '\x1b[?1049h\x1b[H\x1b[2J' : '\x1b[H\x1b[2J'),
        Buffer.concat(lines.flatMap((line, i) => (i === 0 ? [line] : [Buffer.from('\r\n'), line]))),
        Buffer.from(`\x1b[0m\x1b[${y + 1};${x + 1}H`),
      ]);
      const held = this.restoring.get(pane) ?? [];
      this.restoring.delete(pane);
      pty.restore(screen, reason, row ? exitOf(row) : null);
      for (const chunk of held) pty.receive(chunk);
      if (row) pty.setForeground(row.pane_current_command);
    } finally {
      this.restoring.delete(pane);
    }
  }

  private async windowRows(control: TmuxControl): Promise<WindowRow[]> {
    const answer = await control.command(`list-panes -s -t ${TOWER_SESSION} -F "${WINDOW_FORMAT}"`);
    return answer.text().map((line) => {
      const values = line.split('\t');
      return Object.fromEntries(WINDOW_FIELDS.map((field, i) => [field, values[i] ?? ''])) as WindowRow;
    });
  }

  private readonly poll = (): void => {
    if (this.panes.size === 0) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      return;
    }
    if (!this.control || this.control.closed !== null || this.restoring.size > 0) return;
    void this.windowRows(this.control).then(
      (rows) => {
        for (const row of rows) {
          const pty = this.panes.get(row.pane_id);
          if (!pty) continue;
          pty.setForeground(row.pane_current_command);
          if (row.pane_dead === '1') pty.paneDied(exitOf(row) ?? { exitCode: 0, signal: null });
        }
      },
      () => {},
    );
  };
}

function windowName(sessionId: string): string {
  if (!SESSION_ID.test(sessionId)) {
    throw new TowerError('bad_message', `not a session id for tmux: ${JSON.stringify(sessionId)}`);
  }
  return `tower-${sessionId}`;
}

function size(cols: number, rows: number): string {
  return `${Math.max(1, Math.floor(cols))}x${Math.max(1, Math.floor(rows))}`;
}

/** The wrapper's exit title (`tower-exit:NONCE:STATUS`), still the pane's title when nothing followed. */
function exitFromTitle(row: WindowRow): PtyExit | null {
  const match = /^tower-exit:([0-9a-f]+):(\d+)$/.exec(row.pane_title);
  if (!match || match[1] !== row['@tower_nonce']) return null;
  return exitFromStatus(Number(match[2]));
}

function exitOf(row: WindowRow): PtyExit | null {
  if (row.pane_dead === '1') {
    const signal = Number(row.pane_dead_signal);
    return signal > 0
      ? { exitCode: 0, signal }
      : { exitCode: Number(row.pane_dead_status) || 0, signal: null };
  }
  return exitFromTitle(row);
}

export function openTmuxPty(box: Box, spec: TmuxOpenSpec, options?: TmuxHostOptions): Promise<TmuxPty> {
  return TmuxHost.for(box, options).open(spec);
}

export function reattachTmux(
  box: Box,
  sessionId: string,
  cols: number,
  rows: number,
  options?: TmuxHostOptions,
): Promise<TmuxPty> {
  return TmuxHost.for(box, options).reattach(sessionId, cols, rows);
}

export function listTmuxSessions(box: Box, options?: TmuxHostOptions): Promise<TmuxSessionInfo[]> {
  return TmuxHost.for(box, options).list();
}
