/** The agent requests of the socket protocol: prompts, signals, runtimes, attention, restart, dispatch. */

import type { AgentSupervisor } from '../agents/supervisor.js';
import {
  AGENT_REQUEST_TYPES,
  type AgentClientMessage,
  type AttentionEvent,
  type ClientMessage,
  type DaemonMessage,
  type PromptInfo,
} from '../protocol/index.js';
import type { FanOut } from '../state/fan-out.js';

/** What a relay channel may watch: attention events and prompt states. */
export interface AgentEvents {
  readonly attention: FanOut<[AttentionEvent]>;
  readonly prompt: FanOut<[PromptInfo]>;
}

export type AgentRequest = AgentClientMessage;

export function isAgentRequest(request: ClientMessage): request is AgentRequest {
  return AGENT_REQUEST_TYPES.has(request.type);
}

/** One connection's view of the agents: answers its requests and, once asked, streams attention to it. */
export class AgentRequests {
  /** Set while this connection watches attention and prompt events. */
  private stopWatching: Array<() => void> | null = null;

  constructor(
    private readonly supervisor: AgentSupervisor,
    private readonly events: AgentEvents,
    private readonly send: (message: DaemonMessage) => void,
  ) {}

  handle(request: AgentRequest): Promise<void> | undefined {
    const { supervisor } = this;
    const reqId = request.req_id;
    switch (request.type) {
      case 'send_prompt':
        return supervisor.sendPrompt(request.session_id, request.text).then((prompt) => {
          this.send({ type: 'prompt_accepted', prompt, req_id: reqId });
        });
      case 'list_prompts':
        this.send({
          type: 'prompt_list',
          prompts: supervisor.listPrompts(request.session_id),
          req_id: reqId,
        });
        return;
      case 'cancel_prompt':
        this.send({
          type: 'prompt_accepted',
          prompt: supervisor.cancelPrompt(request.prompt_id),
          req_id: reqId,
        });
        return;
      case 'agent_signal':
        supervisor.signal(request.session_id, request.source, request.event, request.payload ?? {});
        if (reqId !== undefined) this.send({ type: 'ack', req_id: reqId });
        return;
      case 'list_runtimes':
        return supervisor.listRuntimes().then((runtimes) => {
          this.send({ type: 'runtime_list', runtimes, req_id: reqId });
        });
      case 'watch_attention':
        if (request.replay) {
          for (const event of supervisor.recentAttention(request.after)) {
            this.send({ type: 'attention', event, replayed: true });
          }
        }
        this.stopWatching ??= [
          this.events.attention.add((event) => this.send({ type: 'attention', event })),
          this.events.prompt.add((prompt) => this.send({ type: 'prompt_event', prompt })),
        ];
        if (reqId !== undefined) this.send({ type: 'ack', req_id: reqId });
        return;
      case 'restart_session':
        return supervisor.restart(request.session_id, request.resume ?? true).then((session) => {
          this.send({
            type: 'session_created',
            session_id: session.id,
            pid: session.meta.pid ?? 0,
            req_id: reqId,
          });
        });
      case 'dispatch':
        return supervisor
          .dispatch({
            runtime: request.runtime,
            cwd: request.cwd,
            text: request.text,
            maxSessions: request.max_sessions,
            substrate: request.substrate,
          })
          .then(({ session, spawned, prompt }) => {
            this.send({ type: 'dispatched', session_id: session.id, spawned, prompt, req_id: reqId });
          });
    }
  }

  close(): void {
    for (const stop of this.stopWatching ?? []) stop();
  }
}
