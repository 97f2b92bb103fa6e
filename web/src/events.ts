/**
 * Live changes from GET /api/events (server-sent events, each named by its `event` field):
 * session changes (created, exited, resized, removed, and status: the agent state changed), each
 * `{event, session}`; `attention {attention, replayed?}` (needs input, turn finished, lost…; the
 * recent ones first, replayed; an EventSource that reconnects by itself sends Last-Event-ID and gets
 * only later ones); `prompt {prompt}` (a prompt changed state). Each (re)connection starts with a
 * fresh list, since other changes made while the stream was down are not replayed.
 */
import { SESSION_EVENT_NAMES } from '../../src/protocol/names.js';
import type { AttentionEvent, PromptInfo, SessionEventName, SessionInfo } from './types.js';

export interface SessionEvent {
  event: SessionEventName | string;
  session: SessionInfo;
}

export interface SessionEventHandlers {
  event(event: SessionEvent): void;
  /** `replayed`: it happened before this stream opened (the server sends the recent ones first). */
  attention(event: AttentionEvent, replayed: boolean): void;
  prompt(prompt: PromptInfo): void;
  /** The stream (re)opened: fetch the whole list again. */
  resync(): void;
  /** The stream was refused (for instance 401): check the login. */
  trouble(): void;
}

const RETRY_MS = 3000;

export class SessionEvents {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly handlers: SessionEventHandlers) {}

  start(): void {
    const source = new EventSource('/api/events');
    this.source = source;
    const receive = (message: MessageEvent) => {
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(String(message.data)) as Record<string, unknown>;
      } catch {
        return; // not ours (keepalive comments never get here)
      }
      const event = typeof data.event === 'string' ? data.event : message.type;
      if (event === 'attention' && isObject(data.attention)) {
        this.handlers.attention(data.attention as unknown as AttentionEvent, data.replayed === true);
      } else if (event === 'prompt' && isObject(data.prompt)) {
        this.handlers.prompt(data.prompt as unknown as PromptInfo);
      } else if (isObject(data.session) && typeof data.session.id === 'string') {
        this.handlers.event({ event, session: data.session as unknown as SessionInfo });
      }
    };
    for (const name of [...SESSION_EVENT_NAMES, 'attention', 'prompt'])
      source.addEventListener(name, receive);
    // Event kinds added later arrive under their own names or as plain messages.
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
