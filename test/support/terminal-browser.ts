/** A stand-in for a browser on GET /ws/terminal/:id (`ws`): it records messages and binary frames. */
import { expect } from 'vitest';
import type WebSocket from 'ws';
import { waitFor } from './daemon.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON from the server, checked field by field in the tests
export type Message = Record<string, any>;
export type Frame = { offset: number; length: number; data: Buffer | null };
type Received = { kind: 'message'; message: Message } | { kind: 'frame'; frame: Frame };

export interface BrowserOptions {
  role?: 'admin' | 'viewer';
  offset?: number;
  client?: string;
  /** false: keep only offsets and lengths of frames (for floods) */
  keepFrames?: boolean;
  /** ACK each frame as it arrives, as xterm.js's write callback would */
  autoAck?: boolean;
}

export class TestBrowser {
  readonly received: Received[] = [];
  closeCode: number | null = null;
  autoAck: boolean;
  frameBytes = 0;
  /** End offset of the last frame received. */
  end: number | undefined;
  private tailText = '';

  constructor(
    readonly ws: WebSocket,
    private readonly keepFrames: boolean,
    autoAck: boolean,
  ) {
    this.autoAck = autoAck;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.received.push({ kind: 'message', message: JSON.parse(data.toString('utf8')) });
        return;
      }
      const offset = Number(data.readBigUInt64BE(0));
      const bytes = data.subarray(8);
      this.received.push({
        kind: 'frame',
        frame: { offset, length: bytes.length, data: this.keepFrames ? Buffer.from(bytes) : null },
      });
      this.frameBytes += bytes.length;
      this.end = offset + bytes.length;
      this.tailText = (this.tailText + bytes.toString('latin1')).slice(-4096);
      if (this.autoAck) this.send({ type: 'ack', offset: this.end });
    });
    ws.on('close', (code: number) => {
      this.closeCode = code;
    });
  }

  messages(type?: string): Message[] {
    return this.received.flatMap((r) =>
      r.kind === 'message' && (type === undefined || r.message.type === type) ? [r.message] : [],
    );
  }

  frames(): Frame[] {
    return this.received.flatMap((r) => (r.kind === 'frame' ? [r.frame] : []));
  }

  /** Frames received after the last snapshot (all of them if there is none). */
  framesAfterSnapshot(): Frame[] {
    const last = this.received.findLastIndex((r) => r.kind === 'message' && r.message.type === 'snapshot');
    return this.received.slice(last + 1).flatMap((r) => (r.kind === 'frame' ? [r.frame] : []));
  }

  text(): string {
    return Buffer.concat(this.frames().map((f) => f.data!)).toString('utf8');
  }

  tail(): string {
    return this.tailText;
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  next(type: string, count = 1): Promise<Message> {
    return waitFor(() => this.messages(type)[count - 1], `${type} message #${count}`);
  }

  async close(): Promise<void> {
    if (this.closeCode !== null) return;
    const closed = new Promise((r) => this.ws.once('close', r));
    this.ws.close();
    await closed;
  }
}

export function expectContiguous(frames: Frame[], from: number): number {
  let next = from;
  for (const frame of frames) {
    expect(frame.offset).toBe(next);
    next += frame.length;
  }
  return next;
}
