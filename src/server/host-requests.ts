/** The requests the session host answers besides the terminal ones: its spawns and its control plane's. */
import {
  type ClientMessage,
  type DaemonMessage,
  HOST_PROTOCOL,
  type SessionEventName,
  type SessionInfo,
  TowerError,
} from '../protocol/index.js';
import type { SessionManager } from '../sessions/manager.js';
import { FanOut } from '../state/fan-out.js';
import { NO_ACCESS } from '../substrates/types.js';
import type { ControlPlaneSlot, RelayEndpoint } from './control-plane-slot.js';

/** The requests that start a program: the connection's later lines wait for their answer. */
export const STARTS_PROGRAM: ReadonlySet<string> = new Set(['create_session', 'host_create_session']);

export interface HostIdentity {
  build: string;
  startedAt: string;
}

type Handled = Extract<
  ClientMessage,
  {
    type:
      | 'create_session'
      | 'host_create_session'
      | 'attach_control_plane'
      | 'set_agent_status'
      | 'relay_reply'
      | 'read_process'
      | 'host_status'
      | 'stop_host'
      | 'list_substrates'
      | 'probe_substrate'
      | 'bootstrap_substrate'
      | 'bootstrap_state'
      | 'substrate_lifecycle'
      | 'trust_substrate';
  }
>;

export class HostRequests {
  readonly sessionEvents: FanOut<[SessionEventName, SessionInfo]>;

  constructor(
    private readonly manager: SessionManager,
    private readonly slot: ControlPlaneSlot,
    private readonly identity: HostIdentity,
    private readonly stop: () => void,
  ) {
    this.sessionEvents = new FanOut((relay) => manager.on('session', relay));
  }

  handle(
    request: ClientMessage,
    from: RelayEndpoint & { send(message: DaemonMessage): boolean },
  ): Promise<void> | undefined {
    const reqId = request.req_id;
    const ack = () => {
      if (reqId !== undefined) from.send({ type: 'ack', req_id: reqId });
    };
    const info = () => ({
      protocol: HOST_PROTOCOL,
      build: this.identity.build,
      pid: process.pid,
      started_at: this.identity.startedAt,
    });
    const request_ = request as Handled;
    switch (request_.type) {
      case 'create_session':
      case 'host_create_session':
        return this.create(request_, from);
      case 'attach_control_plane': {
        const lost = this.slot.attach(from, request_.protocol);
        from.send({ type: 'control_plane_attached', ...info(), lost, req_id: reqId });
        return;
      }
      case 'set_agent_status': {
        const session = this.manager.get(request_.session_id);
        session.queuedPrompts = request_.queued_prompts;
        session.setAgentStatus(request_.status);
        ack();
        return;
      }
      case 'relay_reply':
        this.slot.reply(request_.channel, request_.line);
        return;
      case 'read_process':
        from.send({
          type: 'process_info',
          session_id: request_.session_id,
          foreground: this.manager.get(request_.session_id).foregroundProcess(),
          req_id: reqId,
        });
        return;
      case 'host_status':
        from.send({
          type: 'host_info',
          ...info(),
          control_plane: this.slot.attached,
          sessions: this.manager.all().filter((session) => !session.ended).length,
          req_id: reqId,
        });
        return;
      case 'stop_host':
        ack();
        this.stop();
        return;
      case 'probe_substrate': {
        const { name, programs, variables, files, env } = request_;
        const substrate = this.manager.substrates.get(name);
        const query = {
          cwd: '~',
          env,
          programs,
          variables,
          files,
          access: { ...NO_ACCESS, givenEnv: Object.keys(env) },
        };
        return substrate.probe(query).then((found) => {
          from.send({ type: 'substrate_probe', ...found, req_id: reqId });
        });
      }
      case 'substrate_lifecycle': {
        const { name, action } = request_;
        const substrate = this.manager.substrates.get(name);
        const run = substrate.capabilities.lifecycle ? substrate[action]?.bind(substrate) : undefined;
        if (!run)
          throw new TowerError(
            'not_supported',
            `substrate ${name} (${substrate.type}) has nothing to ${action}: only a substrate with a machine of its own (docker) has`,
          );
        return run()
          .then(() => substrate.state())
          .then((status) => {
            from.send({ type: 'substrate_state', name, ...status, req_id: reqId });
          });
      }
      case 'list_substrates': {
        const { substrates } = this.manager;
        return substrates.list().then((list) => {
          from.send({
            type: 'substrate_list',
            substrates: list,
            config_error: substrates.configError,
            req_id: reqId,
          });
        });
      }
      case 'bootstrap_substrate':
        return this.bootstrap(request_, from);
      case 'bootstrap_state': {
        const { substrates } = this.manager;
        substrates.get(request_.name);
        const state = substrates.bootstraps.state(request_.name);
        from.send({ type: 'bootstrap_status', name: request_.name, state, req_id: reqId });
        return;
      }
      case 'trust_substrate':
        return this.manager.substrates.trust(request_.name, request_.fingerprints).then((result) => {
          from.send({ type: 'substrate_host_keys', keys: result.keys, file: result.file, req_id: reqId });
        });
    }
  }

  /** Prepare a substrate's box in phases, streaming them; the runtimes come resolved by the control plane. */
  private async bootstrap(
    request: Extract<Handled, { type: 'bootstrap_substrate' }>,
    from: { send(message: DaemonMessage): boolean },
  ): Promise<void> {
    const { substrates } = this.manager;
    const substrate = substrates.get(request.name);
    if (!substrate.box)
      throw new TowerError(
        'not_supported',
        `${substrate.name} is a ${substrate.type} substrate: it has no box to bootstrap`,
      );
    if ((request.runtimes?.length ?? 0) > 0 && request.needs === undefined)
      throw new TowerError(
        'bad_message',
        'runtimes are resolved by the control plane: start Tower with tower serve',
      );
    const { name } = request;
    const { joined, result } = substrates.bootstraps.run(
      { name, box: substrate.box, sessionHost: substrate.sessionHost ?? 'auto', workdir: substrate.workdir },
      { force: request.force, needs: request.needs },
      (event) => from.send({ type: 'bootstrap_event', name, event, req_id: request.req_id }),
    );
    const state = await result;
    from.send({ type: 'bootstrap_result', name, state, joined, req_id: request.req_id });
  }

  /**
   * Start a program (the control plane's spawn carries what a sandbox lets through). Its agent's hooks
   * report in-band, through its own terminal, so no substrate needs a hook socket (`hook_channel`, for
   * hosts before protocol 3, is ignored).
   */
  private async create(
    request: Extract<Handled, { type: 'create_session' | 'host_create_session' }>,
    from: { send(message: DaemonMessage): boolean },
  ): Promise<void> {
    const resolved = request.type === 'host_create_session' ? request : null;
    const access = resolved?.access;
    const session = await this.manager.create({
      id: request.id,
      name: request.name,
      command: request.shell,
      args: request.args,
      displayArgs: resolved?.display_args,
      cwd: request.cwd,
      env: request.env,
      cols: request.cols,
      rows: request.rows,
      runtime: resolved?.runtime_label ?? null,
      resumedFrom: resolved?.resumed_from ?? null,
      substrate: request.substrate,
      signalKey: request.type === 'create_session' ? request.signal_key : undefined,
      access: {
        credentialEnv: access?.credential_env ?? [],
        credentialFiles: access?.credential_files ?? [],
        readOnly: access?.read_only ?? [],
      },
    });
    from.send({
      type: 'session_created',
      session_id: session.id,
      pid: session.meta.pid ?? 0,
      req_id: request.req_id,
    });
  }
}
