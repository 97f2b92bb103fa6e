/**
 * What the host writes to one client's socket. Nothing here blocks or queues without bound: output is
 * handed over only while the socket holds less than SOCKET_HIGH_WATER unsent (the subscription is
 * pumped again on drain), and a peer that lets replies pile up past MAX_UNREAD_BYTES is dropped.
 */
import type { Socket } from 'node:net';
import type { DaemonMessage } from '../protocol/index.js';
import type { MessageWriter } from './socket-messages.js';

/** Stop handing output to a socket whose unsent bytes exceed this; resume on 'drain'. */
const SOCKET_HIGH_WATER = 1024 * 1024;
/** A peer that lets this much pile up unread (replies, not output: that stops at the high-water mark) is dead. */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;
/**
 * How long a reply sent with sendSoon waits for something to go with it. Every write to a socket wakes
 * the client, and a wake-up is the costliest part of an echo on a small VM (~50 µs in the write
 * alone, measured): an input's ack waits for the echo and goes out in the same write.
 */
const SOON_MS = 1;

export class SocketWriter implements MessageWriter {
  /** Lines sent with sendSoon, not written yet. */
  private held = '';
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(private readonly socket: Socket) {
    // The peer's EOF ends our side too (no half-open sockets): what is held goes before that.
    socket.prependListener('end', this.release);
  }

  /** A reply nobody waits for urgently: written with the next write, or within SOON_MS. */
  sendSoon(message: DaemonMessage): void {
    this.held += `${JSON.stringify(message)}\n`;
    this.heldTimer ??= setTimeout(this.release, SOON_MS);
  }

  private readonly release = (): void => {
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    const held = this.held;
    this.held = '';
    if (held) this.write(held);
  };

  /** Each returns whether the socket can take more output right now. */
  send(message: DaemonMessage): boolean {
    return this.write(`${JSON.stringify(message)}\n`);
  }

  /** Output lines are bytes already, often shared with other subscribers: written as they are, not copied. */
  sendOutput(line: Buffer): boolean {
    return this.write(line);
  }

  /** One writev: the head, then the bytes as they lie in the journal's memory. */
  sendFrame(head: Buffer, data: Buffer): boolean {
    this.socket.cork();
    this.write(head);
    const more = this.write(data);
    this.socket.uncork();
    return more;
  }

  sendRaw(line: string): boolean {
    return this.write(`${line}\n`);
  }

  canWrite(): boolean {
    return !this.socket.destroyed && this.socket.writable && this.socket.writableLength < SOCKET_HIGH_WATER;
  }

  private write(bytes: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    if (this.held) {
      // Replies held back go first, in the same write.
      this.socket.cork();
      this.release();
      this.socket.write(bytes);
      this.socket.uncork();
    } else this.socket.write(bytes);
    if (this.socket.writableLength > MAX_UNREAD_BYTES) {
      this.socket.destroy();
      return false;
    }
    return this.canWrite();
  }
}
