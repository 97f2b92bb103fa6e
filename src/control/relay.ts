/**
 * The control plane's end of the host's relay: each channel is one client connection of the host,
 * answered as if the client had asked the control plane directly.
 */
import type { AgentRuntime } from '../agents/spec.js';
import type { AgentSupervisor } from '../agents/supervisor.js';
import { ClientError, type TowerClient } from '../client/client.js';
import {
  ClientMessage,
  type DaemonMessage,
  ErrorCode,
  type RuntimeNeed,
  TowerError,
} from '../protocol/index.js';
import { describeParseError } from '../protocol/validation.js';
import { type AgentEvents, AgentRequests, isAgentRequest } from './agent-requests.js';

export class Relay {
  private readonly channels = new Map<number, AgentRequests>();

  constructor(
    private readonly link: TowerClient,
    private readonly supervisor: AgentSupervisor,
    private readonly events: AgentEvents,
  ) {
    link.on('relay_request', ({ channel, line }) => this.handle(channel, line));
    link.on('relay_closed', ({ channel }) => {
      this.channels.get(channel)?.close();
      this.channels.delete(channel);
    });
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }

  private handle(channel: number, line: string): void {
    const send = (message: DaemonMessage) => {
      this.link.notify({ type: 'relay_reply', channel, line: JSON.stringify(message) });
    };
    let request: ClientMessage;
    try {
      const parsed = ClientMessage.safeParse(JSON.parse(line));
      if (!parsed.success) {
        send({ type: 'error', code: 'bad_message', message: describeParseError('request', parsed.error) });
        return;
      }
      request = parsed.data;
    } catch {
      send({ type: 'error', code: 'bad_json', message: 'malformed JSON' });
      return;
    }
    const reqId = request.req_id;
    const fail = (error: unknown) => {
      // The host's own errors (a bad cwd, too many sessions) reach the control plane as ClientErrors.
      const code = error instanceof TowerError || error instanceof ClientError ? error.code : undefined;
      const known = ErrorCode.safeParse(code);
      send({
        type: 'error',
        code: known.success ? known.data : 'internal',
        message: known.success ? (error as Error).message : `internal error: ${(error as Error).message}`,
        session_id: 'session_id' in request ? request.session_id : undefined,
        req_id: reqId,
      });
    };
    try {
      let answer: Promise<void> | undefined;
      if (isAgentRequest(request)) {
        let requests = this.channels.get(channel);
        if (!requests) {
          requests = new AgentRequests(this.supervisor, this.events, send);
          this.channels.set(channel, requests);
        }
        answer = requests.handle(request);
      } else if (request.type === 'create_session') {
        answer = this.supervisor
          .spawn({
            id: request.id,
            name: request.name,
            runtime: request.runtime,
            command: request.shell,
            args: request.args,
            cwd: request.cwd,
            env: request.env,
            cols: request.cols,
            rows: request.rows,
            substrate: request.substrate,
          })
          .then((session) => {
            send({
              type: 'session_created',
              session_id: session.id,
              pid: session.meta.pid ?? 0,
              req_id: reqId,
            });
          });
      } else if (request.type === 'bootstrap_substrate') {
        const needs = (request.runtimes ?? []).map((name) => runtimeNeed(this.supervisor.registry.get(name)));
        answer = this.link
          .bootstrapSubstrate(request.name, { force: request.force, needs }, (event) =>
            send({ type: 'bootstrap_event', name: request.name, event, req_id: reqId }),
          )
          .then((result) => send({ ...result, req_id: reqId }));
      } else {
        throw new TowerError('bad_message', `${request.type} is not for the control plane`);
      }
      answer?.catch(fail);
    } catch (error) {
      fail(error);
    }
  }
}

/** What bootstrap looks for on a box for a runtime: its program, and its credential sources by name. */
function runtimeNeed(runtime: AgentRuntime): RuntimeNeed {
  const sources = runtime.spec.credentials?.any_of ?? [];
  return {
    name: runtime.name,
    command: runtime.spec.command,
    install: runtime.spec.install || null,
    env: sources.flatMap((source) => ('env' in source ? [source.env] : [])),
    files: sources.flatMap((source) => ('file' in source ? [source.file] : [])),
  };
}
