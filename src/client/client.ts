/**
 * The one client for the daemon's Unix socket, used by the CLI, tests, benchmarks and later transports.
 * Requests carry a `req_id` so replies are matched; stream messages arrive as events.
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type {
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
import { socketPath as defaultSocketPath, resolveStateDir, tokenPath } from '../state/paths.js';
import { readToken } from '../state/token.js';
import { ClientConnection } from './connection.js';
import { ClientError } from './errors.js';
import { resolveSessionRef } from './session-ref.js';

export type { ClosedEvent, OutputEvent } from './connection.js';
export { ClientError };

export interface ConnectOptions {
  stateDir?: string;
  socketPath?: string;
  token?: string;
}

export type CreateSessionOptions = Omit<
  Extract<ClientMessage, { type: 'create_session' }>,
  'type' | 'req_id'
>;

export class TowerClient extends ClientConnection {
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

  /** Type without waiting for an answer (keystrokes): order is kept; a failure arrives as an 'error' event. */
  input(sessionId: string, data: Buffer | string): void {
    this.notify({ type: 'write_input', session_id: sessionId, data: Buffer.from(data).toString('base64') });
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
}
