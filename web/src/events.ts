/**
 * Live session changes from GET /api/events (server-sent events named created, exited, resized,
 * removed; data `{event, session}`). Each (re)connection starts with a fresh list, since changes
 * made while the stream was down are not replayed.
 */
import type { SessionEventName, SessionInfo } from './types.js';

export interface SessionEvent {
  event: SessionEventName | string;
  session: SessionInfo;
}

export interface SessionEventHandlers {
  event(event: SessionEvent): void;
  /** The stream (re)opened: fetch the whole list again. */
  resync(): void;
  /** The stream was refused (for instance 401): check the login. */
  trouble(): void;
}

const NAMES: SessionEventName[] = ['created', 'exited', 'removed', 'resized'];
const RETRY_MS = 3000;

export class SessionEvents {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly handlers: SessionEventHandlers) {}

  start(): void {
    const source = new EventSource('/api/events');
    this.source = source;
    const receive = (message: MessageEvent) => {
      try {
        const data = JSON.parse(String(message.data)) as Partial<SessionEvent>;
        if (data.session && typeof data.session.id === 'string') {
          this.handlers.event({ event: data.event ?? message.type, session: data.session });
        }
      } catch {
        // Not ours (keepalive comments never get here): ignore.
      }
    };
    for (const name of NAMES) source.addEventListener(name, receive);
    // Event kinds added later (agent status…) arrive under their own names or as plain messages.
    source.onmessage = receive;
    source.onopen = () => this.handlers.resync();
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      this.handlers.trouble();
      this.timer = setTimeout(() => this.source === source && this.start(), RETRY_MS);
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
