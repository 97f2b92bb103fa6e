/**
 * A session held by the session host, as the agents layer sees it from the control plane. The host's
 * session events keep its metadata; the control plane is the authority on agent status, so the host's
 * echo of a status is never taken back. Output arrives as `output` notices (enough to time a screen
 * read) unless the runtime reads sequences from the bytes themselves: then the session is subscribed.
 */
import { EventEmitter } from 'node:events';
import type { AgentSession } from '../agents/ports.js';
import type { TowerClient } from '../client/client.js';
import type { AgentStatus, DaemonMessageOf, SessionInfo } from '../protocol/index.js';
import type { SessionMeta } from '../sessions/meta.js';
import type { PtyExit } from '../terminal/pty.js';
import type { ScreenText } from '../terminal/screen.js';

const NOTHING = Buffer.alloc(0);

interface RemoteSessionEvents {
  output: [Buffer];
  exit: [PtyExit];
}

export class RemoteSession extends EventEmitter<RemoteSessionEvents> implements AgentSession {
  meta: SessionMeta;
  agentStatus: AgentStatus;
  exit: PtyExit | null = null;
  private queued: number;
  private subscribed = false;
  private nextOffset: number;

  constructor(
    info: SessionInfo,
    private readonly client: TowerClient,
  ) {
    super();
    this.meta = metaOf(info);
    this.agentStatus = info.agent;
    this.queued = info.queued_prompts;
    this.nextOffset = info.last_offset;
    if (info.status !== 'running')
      this.exit = { exitCode: info.exit_code ?? 0, signal: info.exit_signal ?? 0 };
  }

  get id(): string {
    return this.meta.id;
  }

  get ended(): boolean {
    return this.meta.status !== 'running';
  }

  get queuedPrompts(): number {
    return this.queued;
  }

  set queuedPrompts(count: number) {
    if (count === this.queued) return;
    this.queued = count;
    this.push();
  }

  setAgentStatus(status: AgentStatus): void {
    this.agentStatus = status;
    this.push();
  }

  /** The host's view changed (renamed, resized, exited). */
  update(info: SessionInfo): void {
    const wasRunning = !this.ended;
    this.meta = metaOf(info);
    if (wasRunning && this.ended) {
      this.exit = { exitCode: info.exit_code ?? 0, signal: info.exit_signal ?? 0 };
      this.emit('exit', this.exit);
    }
  }

  /** The runtime needs the bytes (status sequences in the output): stream them from now on. */
  streamOutput(): void {
    if (this.subscribed || this.ended) return;
    this.subscribed = true;
    this.client.subscribe(this.id, { fromOffset: this.nextOffset }).catch(() => {
      this.subscribed = false;
    });
  }

  output(offset: number | undefined, data: Buffer): void {
    if (offset !== undefined) this.nextOffset = offset + data.length;
    this.emit('output', data);
  }

  notice(message: DaemonMessageOf<'session_notice'>): void {
    if (message.kind === 'output' && !this.subscribed) this.emit('output', NOTHING);
  }

  async text(): Promise<ScreenText> {
    const screen = await this.client.screen(this.id);
    return {
      offset: screen.offset,
      cols: screen.cols,
      rows: screen.rows,
      cursorX: screen.cursor_x,
      cursorY: screen.cursor_y,
      text: screen.text,
      bracketedPaste: screen.bracketed_paste ?? false,
    };
  }

  write(data: string | Buffer): void {
    this.client.input(this.id, data);
  }

  async foregroundProcess(): Promise<string | null> {
    if (this.ended) return null;
    const reply = await this.client.request({ type: 'read_process', session_id: this.id });
    return reply.type === 'process_info' ? reply.foreground : null;
  }

  private push(): void {
    this.client
      .request({
        type: 'set_agent_status',
        session_id: this.id,
        status: this.agentStatus,
        queued_prompts: this.queued,
      })
      .catch(() => {
        // The session was removed meanwhile, or the link dropped: the next control plane re-derives it.
      });
  }
}

export function metaOf(info: SessionInfo): SessionMeta {
  return {
    id: info.id,
    name: info.name,
    command: info.shell,
    args: info.args,
    cwd: info.cwd,
    cols: info.cols,
    rows: info.rows,
    pid: info.pid,
    status: info.status,
    exitCode: info.exit_code,
    exitSignal: info.exit_signal,
    createdAt: info.created_at,
    exitedAt: info.exited_at,
    runtime: info.runtime,
    resumedFrom: info.resumed_from,
    substrate: info.substrate,
    signalKey: null,
  };
}
