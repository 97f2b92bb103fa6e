/**
 * The last ATTENTION_BACKLOG attention events of this daemon run, so a client that connects later (a
 * `tower events` started after a crash, a web page opened tomorrow) still learns what happened.
 * Bounded by count; a new daemon run starts empty, which is why a lost session is reported once.
 */
import { randomBytes } from 'node:crypto';
import { ATTENTION_BACKLOG, type AttentionEvent } from '../protocol/index.js';

export class AttentionLog {
  private readonly events: AttentionEvent[] = [];
  /** Ids name the daemon run, so an id from an earlier run is never taken for one of this run. */
  private readonly run = randomBytes(3).toString('hex');
  private sequence = 0;

  nextId(): string {
    this.sequence += 1;
    return `${this.run}-${this.sequence}`;
  }

  add(event: AttentionEvent): void {
    this.events.push(event);
    if (this.events.length > ATTENTION_BACKLOG) this.events.shift();
  }

  /** The events after the one with id `after`; every one held when it is absent or no longer held. */
  since(after?: string): AttentionEvent[] {
    const index = after === undefined ? -1 : this.events.findIndex((event) => event.id === after);
    return this.events.slice(index + 1);
  }
}
