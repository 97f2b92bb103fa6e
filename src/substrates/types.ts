/**
 * The substrate seam: where a session's program runs. The session layer drives what `openPty` returns
 * exactly as it drives a local PTY (PtyProcess: raw bytes, bounded input, an exit reported only after
 * the last byte), so the journal, the screen model and the no-loss-at-exit guarantee hold on every
 * substrate. One folder per substrate (local/, sandbox/, and echo/: a stand-in for tests), each with the
 * same files: index.ts (the substrate, its capabilities and state), pty.ts, exec.ts and probe.ts.
 */
import type { SessionHostChoice, SubstrateCapabilities, SubstrateState } from '../protocol/index.js';
import type { PtyProcess } from '../terminal/pty.js';
import type { Box } from './box/types.js';

export type { PtyProcess, SubstrateCapabilities, SubstrateState };

/**
 * What a session may see of the daemon user's own beyond its workspace. A substrate that shows the
 * host as it is (local) ignores it; one that hides the rest (sandbox) lets exactly this through.
 */
export interface SessionAccess {
  /** Variables set for this session on purpose: given with the spawn, or by its runtime's launch. */
  givenEnv: string[];
  /** The credential variables its runtime's gate rules name. */
  credentialEnv: string[];
  /** The credential files its runtime's gate rules name (`~/…`: the session's home). */
  credentialFiles: string[];
  /** Host paths the program must see, read-only: files Tower wrote for it, the hook program. */
  readOnly: string[];
}

export const NO_ACCESS: SessionAccess = {
  givenEnv: [],
  credentialEnv: [],
  credentialFiles: [],
  readOnly: [],
};

/** Where a program runs and with what: the part a PTY, a command and a probe share. */
export interface Placement {
  /** Absolute, `~` expanded. */
  cwd: string;
  /** The environment the program would get on the daemon's host (a substrate may pass less). */
  env: Record<string, string>;
  access?: SessionAccess;
}

export interface PtySpec extends Placement {
  /** The session's id (a substrate with sessions of its own names them by it). */
  sessionId: string;
  /** The key of its in-band status signals (already in env as $TOWER_SIGNAL_KEY). */
  signalKey?: string;
  /** A name looked up in env.PATH (relative to cwd), or a path. */
  command: string;
  args: string[];
  cols: number;
  rows: number;
  /** prlimit(1) limits, e.g. { nproc: '512' } (`tower serve --limit`). */
  limits?: Record<string, string>;
}

export interface ExecCommand extends Partial<Placement> {
  /** The program and its arguments; never through a shell. */
  argv: string[];
  /** Written to its standard input, which is then closed. */
  input?: Buffer | string;
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Kept of each of stdout and stderr (the rest is read and dropped); default 1 MiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number | null;
  /** The signal that ended it, or null. */
  signal: number | null;
  /** Output past maxOutputBytes was dropped. */
  truncated: boolean;
  timed_out: boolean;
}

export type ExecEvent =
  | { type: 'stdout' | 'stderr'; data: Buffer }
  | { type: 'exit'; exit_code: number | null; signal: number | null; timed_out: boolean };

/** What the credential gate asks: do these programs, variables and files exist *there*? */
export interface ProbeQuery extends Placement {
  programs: string[];
  variables: string[];
  /** `~/…` is the home directory there. */
  files: string[];
}

export interface ProbeResult {
  /** The home directory there. */
  home: string;
  /** Each program's path there, or null. */
  programs: Record<string, string | null>;
  /** Set and not empty there. */
  variables: Record<string, boolean>;
  files: Record<string, boolean>;
}

export interface SubstrateStatus {
  state: SubstrateState;
  /** Why, when it is not ready. */
  reason: string | null;
}

export interface Substrate {
  readonly name: string;
  readonly type: string;
  readonly capabilities: SubstrateCapabilities;
  /** Its settings in one line, for `tower substrates`. */
  readonly detail: string;
  state(): Promise<SubstrateStatus>;
  /** A program on a terminal there. Throws a TowerError (bad_cwd, command_not_found, …) it can name. */
  openPty(spec: PtySpec): Promise<PtyProcess>;
  exec(command: ExecCommand): Promise<ExecResult>;
  /** Events in order, bounded: the command is paused while the consumer does not read. */
  streamExec(command: ExecCommand): AsyncIterable<ExecEvent>;
  probe(query: ProbeQuery): Promise<ProbeResult>;
  /**
   * Its programs run on another machine: a session's cwd and environment are that machine's (`~` its
   * user's home), and its sessions outlive this daemon (reattach).
   */
  readonly remote?: boolean;
  /**
   * The terminal of a session that outlived the daemon, read on from `resume.offset` (once the machine
   * answers: meanwhile it reports the link as disconnected); `not_supported` where it cannot.
   */
  reattach(sessionId: string, resume: Resume): PtyProcess;
  /**
   * The machine its sessions run on, for a substrate that reaches one over a link (ssh, docker): what
   * `tower substrates bootstrap` prepares. Others answer `not_supported` to a bootstrap.
   */
  readonly box?: Box;
  /** What keeps its sessions on the box (the ssh/docker `session_host` setting); default auto. */
  readonly sessionHost?: SessionHostChoice;
  /** The directory its sessions start in on the box, made by bootstrap's config phase (default: home). */
  readonly workdir?: string;
  /** Where they mean something (capabilities.lifecycle). */
  provision?(): Promise<void>;
  wake?(): Promise<void>;
  sleep?(): Promise<void>;
  destroy?(): Promise<void>;
  /** Lets go of what it holds open (a link to a box) when it is no longer declared or was changed. */
  close?(): void;
}

export interface Resume {
  /** The offset of the next output byte the session's journal expects. */
  offset: number;
  command: string;
  cols: number;
  rows: number;
}

/** What a substrate knows of the daemon it serves. */
export interface SubstrateContext {
  stateDir: string;
  /**
   * In a process that does not keep the links to boxes (the control plane): ask the session host,
   * which does, to probe a remote substrate, so that each box has one connection.
   */
  probeVia?: (substrate: string, query: ProbeQuery) => Promise<ProbeResult>;
  /** Where a substrate reports what the user should know (the host's log). */
  log?: (line: string) => void;
}
