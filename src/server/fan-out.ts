/**
 * One listener on an emitter, shared by every connection that watches it. A listener per connection
 * would trip Node's MaxListenersExceededWarning past ten watchers, and raising the limit would hide a
 * real leak behind it; here the emitter keeps one listener however many connections watch.
 */
import type { AgentSupervisor } from '../agents/supervisor.js';
import type { AttentionEvent, PromptInfo, SessionEventName, SessionInfo } from '../protocol/index.js';
import type { SessionManager } from '../sessions/manager.js';

export class FanOut<Args extends unknown[]> {
  private readonly listeners = new Set<(...args: Args) => void>();

  /** `listen` registers the one relay on the emitter. */
  constructor(listen: (relay: (...args: Args) => void) => void) {
    listen((...args) => {
      for (const listener of this.listeners) listener(...args);
    });
  }

  /** Returns a function that stops listening. */
  add(listener: (...args: Args) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** What a connection may watch: session changes, attention events and prompt states. */
export interface DaemonEvents {
  readonly session: FanOut<[SessionEventName, SessionInfo]>;
  readonly attention: FanOut<[AttentionEvent]>;
  readonly prompt: FanOut<[PromptInfo]>;
}

export function daemonEvents(manager: SessionManager, supervisor: AgentSupervisor): DaemonEvents {
  return {
    session: new FanOut((relay) => manager.on('session', relay)),
    attention: new FanOut((relay) => supervisor.on('attention', relay)),
    prompt: new FanOut((relay) => supervisor.on('prompt', relay)),
  };
}
