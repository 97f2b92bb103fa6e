/**
 * The agents layer over the sessions: spawns runtimes through the credential gate, keeps each
 * session's status and prompt queue (its history in tower.db), turns status changes into attention
 * events (kept in a backlog for late clients), reports sessions lost in a crash, and restarts and
 * dispatches.
 */
import { EventEmitter } from 'node:events';
import { homedir } from 'node:os';
import { basename, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { AttentionEvent, AttentionKind, PromptInfo, RuntimeInfo } from '../protocol/index.js';
import { TowerError } from '../protocol/index.js';
import type { SessionMeta } from '../sessions/meta.js';
import { type Clock, systemClock } from '../state/clock.js';
import { expandHome } from '../substrates/command.js';
import { SubstrateRegistry } from '../substrates/registry.js';
import { NO_ACCESS, type SubstrateContext } from '../substrates/types.js';
import { attentionExcerpt } from './attention-excerpt.js';
import { AttentionLog } from './attention-log.js';
import { describeRuntime, requireReady } from './gate.js';
import { credentialAccess, isolationFor } from './isolation.js';
import { type LostSession, lostReport } from './lost-sessions.js';
import type { CreateOptions, AgentSession as Session, SessionSource } from './ports.js';
import { PromptStore } from './prompt-store.js';
import { PromptQueue, RECENT_KEPT } from './prompts.js';
import { RuntimeRegistry } from './registry.js';
import { type AgentRuntime, PLAIN_PROMPT } from './spec.js';
import { type StatusChange, StatusTracker } from './status.js';

export interface SupervisorOptions {
  stateDir: string;
  /** argv that runs `tower hook` (without the runtime name). */
  hookCommand: string[];
  /** Sessions of one runtime that dispatch may start; default 4. */
  dispatchLimit?: number;
  /** The time status, prompts and attention are kept by; default the system's. */
  clock?: Clock;
  /** Probes of remote substrates, through the session host (which keeps their links). */
  probeVia?: SubstrateContext['probeVia'];
}

export interface SpawnOptions extends Omit<CreateOptions, 'command' | 'runtime'> {
  runtime?: string;
  /** A plain program instead of a runtime. */
  command?: string;
  resume?: boolean;
}

interface Agent {
  session: Session;
  runtime: AgentRuntime | null;
  tracker: StatusTracker;
  queue: PromptQueue;
  /** Kept in memory only, for restarts within this daemon run: values may be secrets. */
  env: Record<string, string>;
  /** Someone ended it through Tower: its exit is no news to anyone. */
  closing: boolean;
}

interface SupervisorEvents {
  attention: [AttentionEvent];
  prompt: [PromptInfo];
}

const DEFAULT_DISPATCH_LIMIT = 4;
export class AgentSupervisor extends EventEmitter<SupervisorEvents> {
  readonly registry: RuntimeRegistry;
  /** Where sessions can run, as the credential gate sees them (the host starts them there). */
  private readonly substrates: SubstrateRegistry;
  private readonly agents = new Map<string, Agent>();
  private readonly attentionLog = new AttentionLog();
  private readonly promptStore: PromptStore;
  /** The prompts of sessions from earlier daemon runs, which have no queue. */
  private readonly history = new Map<string, PromptInfo[]>();

  /** Ids being created by this supervisor: their `created` event is not an adoption. */
  private readonly creating = new Set<string>();
  private readonly clock: Clock;

  /**
   * Adopts every session the source holds: running ones get a status tracker and their queued
   * prompts back; the prompts of ended ones are history.
   */
  constructor(
    private readonly manager: SessionSource,
    database: Database.Database,
    private readonly options: SupervisorOptions,
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.registry = new RuntimeRegistry(options.stateDir);
    this.substrates = new SubstrateRegistry({ stateDir: options.stateDir, probeVia: options.probeVia });
    this.promptStore = new PromptStore(database, RECENT_KEPT);
    const statusOf = (id: string) => this.manager.all().find((session) => session.id === id)?.meta.status;
    const { history, queued } = this.promptStore.restore(statusOf);
    for (const [id, prompts] of history) this.history.set(id, prompts);
    for (const session of manager.all()) {
      if (!session.ended) this.adopt(session, queued.get(session.id) ?? []);
    }
    manager.on('session', (event, info) => {
      if (event === 'removed') this.forget(info.id);
      if (event === 'created' && !this.creating.has(info.id) && !this.agents.has(info.id)) {
        this.adopt(this.manager.get(info.id), []);
      }
    });
  }

  /** A session this supervisor did not start (another control plane's, or a plain create_session). */
  private adopt(session: Session, queued: PromptInfo[]): void {
    const runtime = this.registry.all().find((candidate) => candidate.name === session.meta.runtime) ?? null;
    const agent = this.track(session, runtime, {});
    this.agents.get(agent.id)?.queue.restore(queued);
  }

  private async create(options: CreateOptions & { id: string }): Promise<Session> {
    this.creating.add(options.id);
    try {
      return await this.manager.create(options);
    } finally {
      this.creating.delete(options.id);
    }
  }

  /** Spawn a runtime (default: the shell) or a plain command, after the credential gate, on its substrate. */
  async spawn(options: SpawnOptions): Promise<Session> {
    const substrate = this.substrates.get(options.substrate);
    // On another machine the environment, `~` and the paths are that machine's.
    const env = substrate.remote
      ? { ...options.env }
      : { ...(process.env as Record<string, string>), ...options.env };
    const cwd = substrate.remote ? (options.cwd ?? '~') : expandHome(options.cwd ?? env.HOME ?? homedir());
    if (options.command !== undefined && options.runtime === undefined) {
      const id = options.id ?? this.manager.newId();
      const session = await this.create({ ...options, id, runtime: null });
      return this.track(session, null, options.env ?? {});
    }
    const runtime = this.registry.get(options.runtime ?? 'shell');
    const given = Object.keys(options.env ?? {});
    const probeAccess = { ...NO_ACCESS, ...credentialAccess(runtime), givenEnv: given };
    const probeCwd = substrate.remote ? cwd : resolve(cwd);
    await requireReady(runtime, substrate, { cwd: probeCwd, env, access: probeAccess }, given);
    const id = options.id ?? this.manager.newId();
    const launch = runtime.launch?.({
      sessionId: id,
      cwd,
      stateDir: this.options.stateDir,
      hookCommand: this.options.hookCommand,
      env,
      remote: substrate.remote === true,
    }) ?? { args: [], env: {} };
    const resumeArgs = options.resume ? (runtime.spec.resume_args ?? []) : [];
    const isolation = isolationFor(substrate, runtime, launch);
    const session = await this.create({
      ...options,
      id,
      cwd,
      command: runtime.spec.command,
      args: [...resumeArgs, ...runtime.spec.args, ...launch.args, ...(options.args ?? [])],
      displayArgs: options.args ?? [],
      env: { ...options.env, ...launch.env },
      runtime: runtime.name,
      access: isolation.access,
      hookChannel: isolation.hookChannel,
    });
    return this.track(session, runtime, options.env ?? {});
  }

  /** Relaunch a session's runtime in its cwd (ending it first), resuming its last conversation. */
  async restart(sessionId: string, resume = true): Promise<Session> {
    const old = this.manager.get(sessionId);
    if (!old.ended) await this.close(sessionId);
    return this.relaunch(old, resume);
  }

  /**
   * At start, after resumeLost: one `lost` attention event for each session the last daemon run left
   * running; returns those and the relaunched ones, with what became of each.
   */
  reportLost(lostAtStart: string[], relaunched: Session[]): LostSession[] {
    return lostReport(this.manager.all(), lostAtStart, relaunched, (meta, excerpt) =>
      this.emitAttention(meta, 'lost', excerpt),
    );
  }

  /** The attention events held for clients that connect now (all, or those after the event `after`). */
  recentAttention(after?: string): AttentionEvent[] {
    return this.attentionLog.since(after);
  }

  /** End a session because someone asked (close_session, `tower kill`, a restart): no attention for it. */
  close(sessionId: string): Promise<void> {
    const agent = this.agents.get(this.manager.get(sessionId).id);
    if (agent) agent.closing = true;
    return this.manager.close(sessionId);
  }

  /** After a daemon restart: relaunch every lost agent session that can resume. */
  async resumeLost(): Promise<Session[]> {
    const sessions = this.manager.all();
    const resumed: Session[] = [];
    for (const session of sessions) {
      const { status, runtime } = session.meta;
      if (status !== 'lost' || !runtime) continue;
      if (!this.registry.all().find((candidate) => candidate.name === runtime)?.spec.resume_args) continue;
      if (sessions.some((other) => other.meta.resumedFrom === session.id)) continue;
      try {
        resumed.push(await this.relaunch(session, true));
      } catch {
        // Blocked or gone (cwd removed): it stays lost, readable, and can be restarted by hand.
      }
    }
    return resumed;
  }

  /** A new session like `old` (same runtime or command, cwd, name, size, arguments), linked to it. */
  private relaunch(old: Session, resume: boolean): Promise<Session> {
    const { meta } = old;
    const common = {
      name: meta.name ?? undefined,
      cwd: meta.cwd,
      cols: meta.cols,
      rows: meta.rows,
      args: meta.args,
      env: this.agents.get(old.id)?.env,
      resumedFrom: old.id,
      substrate: meta.substrate,
    };
    if (!meta.runtime) return this.spawn({ ...common, command: meta.command });
    const runtime = this.registry.get(meta.runtime);
    return this.spawn({ ...common, runtime: runtime.name, resume: resume && !!runtime.spec.resume_args });
  }

  /** Someone else ended the session through Tower (close_session on the host): its exit is no news. */
  closedByRequest(sessionId: string): void {
    const agent = this.agents.get(sessionId);
    if (agent) agent.closing = true;
  }

  /** A client typed into the session: a shell may have started a command; a draft may be on the input line. */
  inputTyped(sessionId: string, data: Buffer): void {
    const agent = this.agents.get(sessionId);
    agent?.queue.typed(data);
    agent?.tracker.poke();
  }

  sendPrompt(sessionId: string, text: string): Promise<PromptInfo> {
    return this.agent(sessionId).queue.enqueue(text);
  }

  /** Queued and recent prompts: of a session's queue, or its history if it is from an earlier run. */
  listPrompts(sessionId?: string): PromptInfo[] {
    if (sessionId !== undefined) {
      const id = this.manager.get(sessionId).id;
      return this.agents.get(id)?.queue.list() ?? [...(this.history.get(id) ?? [])];
    }
    return [
      ...[...this.history.values()].flat(),
      ...[...this.agents.values()].flatMap((agent) => agent.queue.list()),
    ];
  }

  cancelPrompt(promptId: string): PromptInfo {
    for (const agent of this.agents.values()) {
      const cancelled = agent.queue.cancel(promptId);
      if (cancelled) return cancelled;
    }
    if (this.listPrompts().some((prompt) => prompt.id === promptId)) {
      throw new TowerError('prompt_not_queued', `prompt ${promptId} is no longer queued`);
    }
    throw new TowerError('unknown_prompt', `unknown prompt: ${promptId}`);
  }

  signal(sessionId: string, source: string, event: string, payload: Record<string, unknown>): void {
    const agent = this.agent(sessionId);
    const runtime = agent.runtime?.name === source ? agent.runtime : this.registry.get(source);
    const reading = runtime.readSignal?.(event, payload);
    if (reading) agent.tracker.signal(reading);
  }

  async listRuntimes(): Promise<RuntimeInfo[]> {
    const placement = { cwd: process.cwd(), env: process.env as Record<string, string> };
    const local = this.substrates.local;
    return Promise.all(this.registry.all().map((runtime) => describeRuntime(runtime, local, placement)));
  }

  /** An idle session of the runtime (in cwd, on substrate) takes it; else a new one there, up to the limit; else the shortest queue. */
  async dispatch(options: {
    runtime: string;
    cwd?: string;
    text: string;
    maxSessions?: number;
    substrate?: string;
  }): Promise<{ session: Session; spawned: boolean; prompt: PromptInfo }> {
    this.registry.get(options.runtime);
    const remote = options.substrate !== undefined && this.substrates.get(options.substrate).remote;
    // A remote substrate's paths are its own: kept as given, as its sessions' cwd is.
    const cwd = options.cwd && !remote ? resolve(expandHome(options.cwd)) : options.cwd;
    const candidates = [...this.agents.values()].filter(
      (agent) =>
        !agent.session.ended &&
        agent.session.meta.runtime === options.runtime &&
        (options.substrate === undefined || agent.session.meta.substrate === options.substrate) &&
        (cwd === undefined || agent.session.meta.cwd === cwd),
    );
    const idle = candidates.find((agent) => agent.tracker.state === 'idle' && !agent.queue.busy);
    if (idle)
      return { session: idle.session, spawned: false, prompt: await idle.queue.enqueue(options.text) };
    const limit = options.maxSessions ?? this.options.dispatchLimit ?? DEFAULT_DISPATCH_LIMIT;
    if (candidates.length < limit) {
      const session = await this.spawn({ runtime: options.runtime, cwd, substrate: options.substrate });
      return { session, spawned: true, prompt: await this.sendPrompt(session.id, options.text) };
    }
    const least = candidates.reduce((a, b) => (b.queue.length < a.queue.length ? b : a));
    return { session: least.session, spawned: false, prompt: await least.queue.enqueue(options.text) };
  }

  private track(session: Session, runtime: AgentRuntime | null, env: Record<string, string>): Session {
    const track = (change: StatusChange) => this.statusChanged(agent, change);
    const tracker = new StatusTracker(session, runtime, track, this.clock);
    const onPrompt = (prompt: PromptInfo) => {
      this.promptStore.save(prompt);
      this.emit('prompt', prompt);
      if (prompt.state === 'failed')
        void this.attention(agent, 'error', `prompt not delivered: ${prompt.error}`);
    };
    const spec = runtime?.spec.prompt ?? PLAIN_PROMPT;
    const queue = new PromptQueue(session, tracker, spec, onPrompt, this.clock);
    const agent: Agent = { session, runtime, tracker, queue, env, closing: false };
    this.agents.set(session.id, agent);
    return session;
  }

  private statusChanged(agent: Agent, change: StatusChange): void {
    agent.queue.statusChanged(change);
    const { state } = change.status;
    const kind: AttentionKind | null =
      state === 'needs_input'
        ? 'needs_input'
        : state === 'exited'
          ? 'exited'
          : state === 'idle' && change.previous.state === 'busy'
            ? 'turn_finished'
            : null;
    if (!kind || (kind === 'exited' && agent.closing)) return;
    void this.attention(agent, kind, change.excerpt || (kind === 'exited' ? change.status.reason : ''));
    const exit = agent.session.exit;
    if (kind === 'exited' && exit && (exit.exitCode !== 0 || exit.signal)) {
      void this.attention(agent, 'error', change.status.reason);
    }
  }

  private async attention(agent: Agent, kind: AttentionKind, excerpt: string): Promise<void> {
    const found = await attentionExcerpt(agent.tracker, agent.session, this.clock, kind, excerpt);
    this.emitAttention(agent.session.meta, kind, found);
  }

  private emitAttention(meta: SessionMeta, kind: AttentionKind, excerpt: string): void {
    const event: AttentionEvent = {
      id: this.attentionLog.nextId(),
      kind,
      session_id: meta.id,
      runtime: meta.runtime,
      name: meta.name ?? basename(meta.cwd),
      excerpt,
      at: new Date(this.clock.now()).toISOString(),
    };
    this.attentionLog.add(event);
    this.emit('attention', event);
  }

  private agent(sessionId: string): Agent {
    const agent = this.agents.get(this.manager.get(sessionId).id);
    if (!agent) {
      throw new TowerError(
        'not_an_agent',
        `session ${sessionId} is from an earlier daemon run; restart it first`,
      );
    }
    return agent;
  }

  /** The control plane is going: every tracker and queue stops (the sessions go on in the host). */
  stop(): void {
    for (const agent of this.agents.values()) {
      agent.tracker.stop();
      agent.queue.stop();
    }
    this.agents.clear();
  }

  private forget(sessionId: string): void {
    this.agents.get(sessionId)?.tracker.stop();
    this.agents.get(sessionId)?.queue.stop();
    this.agents.delete(sessionId);
    this.history.delete(sessionId);
    this.promptStore.remove(sessionId);
  }
}
