/**
 * What the agents layer needs of a session and of the place sessions live. The control plane
 * implements both over its link to the session host; nothing here knows which process holds a PTY.
 */
import type { AgentStatus, SessionEventName, SessionInfo } from '../protocol/index.js';
import type { CreateOptions as ManagerCreateOptions } from '../sessions/manager.js';
import type { SessionMeta } from '../sessions/meta.js';
import type { PtyExit } from '../terminal/pty.js';
import type { ScreenText } from '../terminal/screen.js';

export interface AgentSession {
  readonly id: string;
  readonly meta: SessionMeta;
  readonly ended: boolean;
  readonly exit: PtyExit | null;
  readonly agentStatus: AgentStatus;
  queuedPrompts: number;
  setAgentStatus(status: AgentStatus): void;
  text(): Promise<ScreenText>;
  write(data: string | Buffer): void;
  foregroundProcess(): Promise<string | null>;
  /** The runtime reads status from the bytes themselves: deliver every byte as `output`, not just a nudge. */
  streamOutput?(): void;
  on(event: 'output', listener: (data: Buffer) => void): unknown;
  on(event: 'exit', listener: (exit: PtyExit) => void): unknown;
  once(event: 'exit', listener: (exit: PtyExit) => void): unknown;
  off(event: 'output', listener: (data: Buffer) => void): unknown;
}

export interface CreateOptions extends ManagerCreateOptions {
  /**
   * Its substrate hides the daemon's socket: on a host before protocol 3, which takes no in-band
   * signals, the session needs a hook socket of its own.
   */
  hookChannel?: boolean;
}

export interface SessionSource {
  create(options: CreateOptions): Promise<AgentSession>;
  /** Throws unknown_session. */
  get(id: string): AgentSession;
  all(): AgentSession[];
  newId(): string;
  close(id: string): Promise<void>;
  on(event: 'session', listener: (event: SessionEventName, info: SessionInfo) => void): unknown;
}
