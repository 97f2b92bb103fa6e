/**
 * The one client for the daemon's Unix socket, used by the CLI, tests, benchmarks and later transports.
 * Requests carry a `req_id` so replies are matched; stream messages arrive as events.
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { FrameSplitter } from '../protocol/binary-frame.js';
import type {
  AttentionEvent,
  BootstrapEvent,
  BootstrapState,
  ClientMessage,
  DaemonMessage,
  DaemonMessageOf,
  PromptInfo,
  RuntimeInfo,
  RuntimeNeed,
  SessionInfo,
  SubstrateLifecycleAction,
} from '../protocol/index.js';
import { decodeOutputLine } from '../protocol/output-frame.js';
import { socketPath as defaultSocketPath, resolveStateDir, tokenPath } from '../state/paths.js';
import { readToken } from '../state/token.js';
import { ClientError } from './errors.js';
import { resolveSessionRef } from './session-ref.js';

export { ClientError };

export interface ConnectOptions {
  stateDir?: string;
  socketPath?: string;
  token?: string;
}

export interface OutputEvent {
  sessionId: string;
  offset: number | undefined;
  data: Buffer;
}

export interface ClosedEvent {
  sessionId: string;
  exitCode: number | null;
  signal: number | null;
}

interface ClientEvents {
  output: [OutputEvent];
  snapshot: [DaemonMessageOf<'snapshot'>];
  closed: [ClosedEvent];
  session_event: [DaemonMessageOf<'session_event'>];
  /** `replayed`: from the daemon's backlog (watchAttention with replay), not new. */
  attention: [AttentionEvent, boolean];
  prompt: [PromptInfo];
  error: [ClientError];
  disconnect: [];
  /** To the control plane only (see protocol/host.ts). */
  relay_request: [DaemonMessageOf<'relay_request'>];
  relay_closed: [DaemonMessageOf<'relay_closed'>];
  session_notice: [DaemonMessageOf<'session_notice'>];
}

export type CreateSessionOptions = Omit<
  Extract<ClientMessage, { type: 'create_session' }>,
  'type' | 'req_id'
>;

type Pending = { resolve: (message: DaemonMessage) => void; reject: (error: Error) => void };
type RequestBody = ClientMessage extends infer M
  ? M extends ClientMessage
    ? Omit<M, 'req_id'>
    : never
  : never;

const MAX_REPLY_LINE = 64 * 1024 * 1024;

/** A line as a message: null unless it is a JSON object with a string `type`. */
function parseMessage(line: string): DaemonMessage | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    return typeof (value as { type?: unknown }).type === 'string' ? (value as DaemonMessage) : null;
  } catch {
    return null;
  }
}

export class TowerClient extends EventEmitter<ClientEvents> {
  private nextReqId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests answered by a stream of messages before their reply (bootstrap_substrate). */
  private readonly streams = new Map<number, (message: DaemonMessage) => void>();
  private readonly splitter = new FrameSplitter(MAX_REPLY_LINE);
  private closed = false;
  /** Why the connection was ended on our side (what the other end sent), for the requests it fails. */
  private failure: string | null = null;

  private constructor(private readonly socket: Duplex & { destroySoon?: () => void }) {
    super();
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.splitter.push(chunk)) {
        if ('badFrame' in event) {
          socket.destroy(new ClientError('protocol', `daemon sent ${event.badFrame}`));
          return;
        }
        if ('tooLong' in event) continue;
        // Output, nearly every byte that arrives, is a binary frame or a line decoded straight from its
        // bytes; the rest is JSON.
        const output = 'frame' in event ? event.frame : decodeOutputLine(event.bytes);
        if (output) {
          this.emit('output', output);
          continue;
        }
        if (!('bytes' in event)) continue;
        const line = event.bytes.toString('utf8');
        if (line.trim().length === 0) continue;
        // A box's bridge is another machine's output (a login banner, a hostile box): never a crash here.
        const message = parseMessage(line);
        if (!message) {
          this.failure = `the other end sent what is not Tower's protocol: ${JSON.stringify(line.slice(0, 80))}`;
          socket.destroy(new ClientError('protocol', this.failure));
          return;
        }
        this.receive(message);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const { reject } of this.pending.values())
        reject(
          this.failure
            ? new ClientError('protocol', this.failure)
            : new ClientError('disconnected', 'daemon closed the connection'),
        );
      this.pending.clear();
      this.emit('disconnect');
    });
    socket.on('error', () => {});
  }

  /** Connect and authenticate. Fails with a clear message when the daemon is not running. */
  static async connect(options: ConnectOptions = {}): Promise<TowerClient> {
    const stateDir = resolveStateDir(options.stateDir);
    const path = options.socketPath ?? defaultSocketPath(stateDir);
    const token = options.token ?? readToken(tokenPath(stateDir));
    const socket = await new Promise<ReturnType<typeof connect>>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', (error: NodeJS.ErrnoException) => {
        const down = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
        reject(
          down
            ? new ClientError(
                'daemon_not_running',
                `Tower daemon is not running (no daemon at ${path}); start it with: tower serve`,
              )
            : new ClientError('connect_failed', `cannot connect to ${path}: ${error.message}`),
        );
      });
    });
    const client = new TowerClient(socket);
    if (token === null) {
      client.end();
      throw new ClientError(
        'no_token',
        `no token file at ${tokenPath(stateDir)}; has the daemon ever started here?`,
      );
    }
    const result = (await client.request({ type: 'auth', token })) as DaemonMessageOf<'auth_result'>;
    if (!result.ok) {
      client.end();
      throw new ClientError('auth_failed', 'the daemon refused the token');
    }
    return client;
  }

  /**
   * A client over a stream that a bridge has already authenticated (`tower host bridge` on a box: its
   * first line is the host's auth_result). Resolves once that line has come.
   */
  static async overAuthenticated(stream: Duplex): Promise<TowerClient> {
    const client = new TowerClient(stream);
    const result = await new Promise<DaemonMessage>((resolve, reject) => {
      client.pending.set(0, { resolve, reject });
    });
    if (result.type !== 'auth_result' || !result.ok) {
      client.end();
      throw new ClientError('auth_failed', 'the session host refused the bridge');
    }
    return client;
  }

  /**
   * Send one request and wait for its reply (or its error). `stream` gets the messages that come before
   * the reply of a request answered by a stream (bootstrap_event).
   */
  request(body: RequestBody, stream?: (message: DaemonMessage) => void): Promise<DaemonMessage> {
    const reqId = this.nextReqId++;
    const reply = new Promise<DaemonMessage>((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(new ClientError('disconnected', 'not connected to the daemon'));
        return;
      }
      this.pending.set(reqId, { resolve, reject });
      this.socket.write(`${JSON.stringify({ ...body, req_id: reqId })}\n`);
    });
    if (!stream) return reply;
    this.streams.set(reqId, stream);
    return reply.finally(() => this.streams.delete(reqId));
  }

  async createSession(options: CreateSessionOptions): Promise<{ sessionId: string; pid: number }> {
    const reply = (await this.request({
      type: 'create_session',
      ...options,
    })) as DaemonMessageOf<'session_created'>;
    return { sessionId: reply.session_id, pid: reply.pid };
  }

  async list(): Promise<SessionInfo[]> {
    return ((await this.request({ type: 'list_sessions' })) as DaemonMessageOf<'session_list'>).sessions;
  }

  /** The session a reference names: an exact id, else an exact name, else a unique id prefix. */
  async resolveSession(ref: string): Promise<SessionInfo> {
    return resolveSessionRef(await this.list(), ref);
  }

  /** The id of the session a reference names (see resolveSession). */
  async sessionId(ref: string): Promise<string> {
    return (await this.resolveSession(ref)).id;
  }

  async write(sessionId: string, data: Buffer | string): Promise<void> {
    await this.request({
      type: 'write_input',
      session_id: sessionId,
      data: Buffer.from(data).toString('base64'),
    });
  }

  /** Send a message that has no reply (relay_reply). */
  notify(body: RequestBody): void {
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(body)}\n`);
  }

  /** Type without waiting for an answer (keystrokes): order is kept; a failure arrives as an 'error' event. */
  input(sessionId: string, data: Buffer | string): void {
    const message = {
      type: 'write_input',
      session_id: sessionId,
      data: Buffer.from(data).toString('base64'),
    };
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  async resize(sessionId: string, cols: number, rows: number): Promise<void> {
    await this.request({ type: 'resize', session_id: sessionId, cols, rows });
  }

  async subscribe(
    sessionId: string,
    start: { fromOffset?: number; snapshot?: boolean; screenOnly?: boolean } = {},
  ): Promise<void> {
    await this.request({
      type: 'subscribe',
      session_id: sessionId,
      from_offset: start.fromOffset,
      snapshot: start.snapshot,
      screen_only: start.screenOnly,
      // A daemon from before binary frames ignores this and sends lines, which are read as well.
      binary: true,
    });
  }

  async unsubscribe(sessionId: string): Promise<void> {
    await this.request({ type: 'unsubscribe', session_id: sessionId });
  }

  async close(sessionId: string): Promise<void> {
    await this.request({ type: 'close_session', session_id: sessionId });
  }

  /** A new display name ('' for none); watchers get a session_event `renamed`. */
  async rename(sessionId: string, name: string): Promise<void> {
    await this.request({ type: 'rename_session', session_id: sessionId, name });
  }

  async remove(sessionId: string): Promise<void> {
    await this.request({ type: 'remove_session', session_id: sessionId });
  }

  async snapshot(sessionId: string): Promise<DaemonMessageOf<'snapshot'>> {
    return (await this.request({
      type: 'get_snapshot',
      session_id: sessionId,
    })) as DaemonMessageOf<'snapshot'>;
  }

  async screen(sessionId: string): Promise<DaemonMessageOf<'screen_text'>> {
    return (await this.request({
      type: 'read_screen',
      session_id: sessionId,
    })) as DaemonMessageOf<'screen_text'>;
  }

  async readOutput(sessionId: string, fromOffset?: number, maxBytes?: number) {
    const reply = (await this.request({
      type: 'read_output',
      session_id: sessionId,
      from_offset: fromOffset,
      max_bytes: maxBytes,
    })) as DaemonMessageOf<'output_chunk'>;
    return {
      offset: reply.offset,
      data: Buffer.from(reply.data, 'base64'),
      firstOffset: reply.first_offset,
      lastOffset: reply.last_offset,
      /** Bytes before `offset` that could not be read (lost or damaged on disk), when the read began in them. */
      skipped: reply.skipped,
    };
  }

  /** Queue a prompt for an agent; it is delivered (verified) once the agent is idle. */
  async sendPrompt(sessionId: string, text: string): Promise<PromptInfo> {
    const reply = await this.request({ type: 'send_prompt', session_id: sessionId, text });
    return (reply as DaemonMessageOf<'prompt_accepted'>).prompt;
  }

  async prompts(sessionId?: string): Promise<PromptInfo[]> {
    const reply = await this.request({ type: 'list_prompts', session_id: sessionId });
    return (reply as DaemonMessageOf<'prompt_list'>).prompts;
  }

  async cancelPrompt(promptId: string): Promise<PromptInfo> {
    const reply = await this.request({ type: 'cancel_prompt', prompt_id: promptId });
    return (reply as DaemonMessageOf<'prompt_accepted'>).prompt;
  }

  async runtimes(): Promise<RuntimeInfo[]> {
    return ((await this.request({ type: 'list_runtimes' })) as DaemonMessageOf<'runtime_list'>).runtimes;
  }

  /** Provision, wake, sleep or destroy a substrate (a docker container); its state once done. */
  async substrateLifecycle(
    name: string,
    action: SubstrateLifecycleAction,
  ): Promise<DaemonMessageOf<'substrate_state'>> {
    return (await this.request({
      type: 'substrate_lifecycle',
      name,
      action,
    })) as DaemonMessageOf<'substrate_state'>;
  }

  /** `local` and the substrates of substrates.json, with their state (and what is wrong in the file). */
  async substrates(): Promise<DaemonMessageOf<'substrate_list'>> {
    return (await this.request({ type: 'list_substrates' })) as DaemonMessageOf<'substrate_list'>;
  }

  /**
   * Prepare a substrate's box in phases (check, packages, node, tower, agent, config); `onEvent` sees each
   * phase change and output line as it happens. Joins a bootstrap of it already under way.
   */
  async bootstrapSubstrate(
    name: string,
    options: { force?: boolean; runtimes?: string[]; needs?: RuntimeNeed[] },
    onEvent: (event: BootstrapEvent) => void = () => {},
  ): Promise<DaemonMessageOf<'bootstrap_result'>> {
    const reply = await this.request({ type: 'bootstrap_substrate', name, ...options }, (message) => {
      if (message.type === 'bootstrap_event') onEvent(message.event);
    });
    return reply as DaemonMessageOf<'bootstrap_result'>;
  }

  /** A substrate's bootstrap as persisted after each phase (outcome `never` if it never ran). */
  async bootstrapState(name: string): Promise<BootstrapState> {
    const reply = await this.request({ type: 'bootstrap_state', name });
    return (reply as DaemonMessageOf<'bootstrap_status'>).state;
  }

  /** The host keys an ssh substrate presents; those whose fingerprints are given are trusted. */
  async trustSubstrate(
    name: string,
    fingerprints: string[],
  ): Promise<DaemonMessageOf<'substrate_host_keys'>> {
    return (await this.request({
      type: 'trust_substrate',
      name,
      fingerprints,
    })) as DaemonMessageOf<'substrate_host_keys'>;
  }

  async restart(sessionId: string, resume = true): Promise<string> {
    const reply = await this.request({ type: 'restart_session', session_id: sessionId, resume });
    return (reply as DaemonMessageOf<'session_created'>).session_id;
  }

  async dispatch(options: {
    runtime: string;
    text: string;
    cwd?: string;
    maxSessions?: number;
    substrate?: string;
  }): Promise<DaemonMessageOf<'dispatched'>> {
    return (await this.request({
      type: 'dispatch',
      runtime: options.runtime,
      text: options.text,
      cwd: options.cwd,
      max_sessions: options.maxSessions,
      substrate: options.substrate,
    })) as DaemonMessageOf<'dispatched'>;
  }

  /**
   * From now on, emit 'attention' and 'prompt' events. `replay`: first the recent attention events the
   * daemon holds (after the one with id `after`, if it still holds it), before this resolves.
   */
  async watchAttention(options: { replay?: boolean; after?: string } = {}): Promise<void> {
    await this.request({ type: 'watch_attention', replay: options.replay, after: options.after });
  }

  async watch(): Promise<void> {
    await this.request({ type: 'watch_sessions' });
  }

  async ping(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  /** Stop reading from the daemon: it then holds this connection's output within its own bounds
   *  (and catches it up from disk once read again). Requests' replies wait too. */
  pauseStream(): void {
    this.socket.pause();
  }

  resumeStream(): void {
    this.socket.resume();
  }

  /** Bytes written and not yet taken by the connection (a slow link's backlog). */
  unsentBytes(): number {
    return this.socket.writableLength;
  }

  /** The connection is closed (by either side); requests now fail with `disconnected`. */
  get disconnected(): boolean {
    return this.closed;
  }

  end(): void {
    this.socket.end();
    this.socket.destroySoon?.();
  }

  private receive(message: DaemonMessage): void {
    const reqId = 'req_id' in message ? message.req_id : undefined;
    if (message.type === 'bootstrap_event') {
      if (typeof reqId === 'number') this.streams.get(reqId)?.(message);
      return;
    }
    if (typeof reqId === 'number' && this.pending.has(reqId)) {
      const waiter = this.pending.get(reqId)!;
      this.pending.delete(reqId);
      if (message.type === 'error') waiter.reject(new ClientError(message.code ?? 'error', message.message));
      else waiter.resolve(message);
      return;
    }
    switch (message.type) {
      case 'session_output':
        if (typeof message.data !== 'string' || typeof message.session_id !== 'string') return;
        this.emit('output', {
          sessionId: message.session_id,
          offset: message.offset,
          data: Buffer.from(message.data, 'base64'),
        });
        return;
      case 'snapshot':
        this.emit('snapshot', message);
        return;
      case 'session_closed':
        this.emit('closed', {
          sessionId: message.session_id,
          exitCode: message.exit_code,
          signal: message.signal ?? null,
        });
        return;
      case 'session_event':
        this.emit('session_event', message);
        return;
      case 'attention':
        this.emit('attention', message.event, message.replayed === true);
        return;
      case 'prompt_event':
        this.emit('prompt', message.prompt);
        return;
      case 'relay_request':
      case 'relay_closed':
      case 'session_notice':
        this.emit(message.type, message as never);
        return;
      case 'error':
        if (this.listenerCount('error') > 0)
          this.emit('error', new ClientError(message.code ?? 'error', message.message));
        return;
    }
  }
}
