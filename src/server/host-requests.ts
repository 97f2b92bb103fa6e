/** The requests the session host answers besides the terminal ones: its spawns and its control plane's. */
import {
  type ClientMessage,
  type DaemonMessage,
  HOST_PROTOCOL,
  type SessionEventName,
  type SessionInfo,
} from '../protocol/index.js';
import type { SessionManager } from '../sessions/manager.js';
import { FanOut } from '../state/fan-out.js';
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
      | 'list_substrates';
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
      case 'host_create_session': {
        const resolved = request_.type === 'host_create_session' ? request_ : null;
        return this.manager
          .create({
            id: request_.id,
            name: request_.name,
            command: request_.shell,
            args: request_.args,
            displayArgs: resolved?.display_args,
            cwd: request_.cwd,
            env: request_.env,
            cols: request_.cols,
            rows: request_.rows,
            runtime: resolved?.runtime_label ?? null,
            resumedFrom: resolved?.resumed_from ?? null,
            substrate: request_.substrate,
          })
          .then((session) => {
            from.send({
              type: 'session_created',
              session_id: session.id,
              pid: session.meta.pid ?? 0,
              req_id: reqId,
            });
          });
      }
      case 'attach_control_plane': {
        const lost = this.slot.attach(from);
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
    }
  }
}
