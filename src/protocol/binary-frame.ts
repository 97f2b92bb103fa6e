/**
 * Binary output frames: a subscription that asked for them (`subscribe` with `binary: true`) gets its
 * output as raw bytes with a small header, between the protocol's JSON lines, instead of base64 in a
 * `session_output` line. It saves the daemon encoding and the client decoding every byte (about a
 * third of the CPU of a streaming session) and a third of the bytes on the socket.
 *
 * A frame begins with a NUL byte, which no JSON line can begin with:
 *
 *   0x00 | id length (1 byte) | id (ASCII) | offset (8 bytes, big-endian) | length (4 bytes, big-endian) | bytes
 *
 * Frames and lines may follow each other in any order; a frame is never split by a line.
 */
import { type LineBytesEvent, LineSplitter } from './ndjson.js';

export const FRAME_MARK = 0x00;
/** The largest payload a frame may carry; a longer one is a protocol error. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;
const FIXED_HEAD = 1 + 1 + 8 + 4;
const TWO_32 = 2 ** 32;

export interface OutputFrame {
  sessionId: string;
  offset: number;
  data: Buffer;
}

/**
 * The head of the frame for `length` bytes at `offset` of a session; the bytes follow it as they are
 * (the host writes both at once, the bytes straight from the journal's memory, never copied).
 */
export function encodeFrameHead(sessionId: string, offset: number, length: number): Buffer {
  const idLength = Buffer.byteLength(sessionId, 'latin1');
  // Session ids are at most 128 ASCII characters (the protocol's schema): one byte holds the length.
  if (idLength > 255) throw new RangeError(`session id too long for a frame: ${idLength} bytes`);
  const head = Buffer.allocUnsafe(FIXED_HEAD + idLength);
  head[0] = FRAME_MARK;
  head[1] = idLength;
  let at = 2 + head.write(sessionId, 2, 'latin1');
  at = head.writeUInt32BE(Math.floor(offset / TWO_32), at);
  at = head.writeUInt32BE(offset % TWO_32, at);
  head.writeUInt32BE(length, at);
  return head;
}

/** The whole frame for `data` at `offset` of a session, in one buffer. */
export function encodeOutputFrame(sessionId: string, offset: number, data: Uint8Array): Buffer {
  return Buffer.concat([encodeFrameHead(sessionId, offset, data.length), data]);
}

export type FrameEvent = LineBytesEvent | { frame: OutputFrame } | { badFrame: string };

interface FrameHead {
  sessionId: string;
  offset: number;
  payloadBytes: number;
}

/**
 * Splits what a daemon sends into JSON lines (as LineSplitter does) and binary output frames. A payload
 * that lies within one chunk is a view of that chunk.
 */
export class FrameSplitter {
  private readonly lines: LineSplitter;
  /** The head of the frame being read, while its bytes are still collected. */
  private headParts: Buffer[] = [];
  private headBytes = 0;
  private head: FrameHead | null = null;
  private payloadParts: Buffer[] = [];
  private payloadBytes = 0;
  private broken = false;

  constructor(maxLineBytes: number) {
    this.lines = new LineSplitter(maxLineBytes);
  }

  *push(chunk: Buffer): Generator<FrameEvent> {
    if (this.broken) return;
    let at = 0;
    while (at < chunk.length) {
      if (this.inFrame || (chunk[at] === FRAME_MARK && !this.lines.midLine)) {
        at += this.readHead(chunk, at);
        if (this.broken) {
          yield { badFrame: `a binary output frame longer than ${MAX_FRAME_PAYLOAD} bytes` };
          return;
        }
        if (!this.head) continue;
        at += this.readPayload(chunk, at);
        const frame = this.completeFrame();
        if (frame) yield { frame };
        continue;
      }
      const newline = chunk.indexOf(0x0a, at);
      const end = newline === -1 ? chunk.length : newline + 1;
      yield* this.lines.pushBytes(chunk.subarray(at, end));
      at = end;
    }
  }

  private get inFrame(): boolean {
    return this.headBytes > 0 || this.head !== null;
  }

  /** Collects the head (the id length first, then the rest); returns the bytes taken. */
  private readHead(chunk: Buffer, at: number): number {
    if (this.head) return 0;
    const idLength =
      this.headBytes >= 2 ? this.headParts[0]![1] : this.headBytes === 1 ? chunk[at] : chunk[at + 1];
    const wanted = idLength === undefined ? 2 : FIXED_HEAD + idLength;
    const piece = chunk.subarray(at, at + wanted - this.headBytes);
    this.headParts.push(piece);
    this.headBytes += piece.length;
    if (this.headParts.length > 1) this.headParts = [Buffer.concat(this.headParts, this.headBytes)];
    if (this.headBytes < wanted || idLength === undefined) return piece.length;
    const head = this.headParts[0]!;
    const idEnd = 2 + idLength;
    const payloadBytes = head.readUInt32BE(idEnd + 8);
    if (payloadBytes > MAX_FRAME_PAYLOAD) this.broken = true;
    this.head = {
      sessionId: head.toString('latin1', 2, idEnd),
      offset: head.readUInt32BE(idEnd) * TWO_32 + head.readUInt32BE(idEnd + 4),
      payloadBytes,
    };
    this.headParts = [];
    this.headBytes = 0;
    return piece.length;
  }

  private readPayload(chunk: Buffer, at: number): number {
    const piece = chunk.subarray(at, at + this.head!.payloadBytes - this.payloadBytes);
    if (piece.length > 0) this.payloadParts.push(piece);
    this.payloadBytes += piece.length;
    return piece.length;
  }

  private completeFrame(): OutputFrame | null {
    const head = this.head!;
    if (this.payloadBytes < head.payloadBytes) return null;
    const data =
      this.payloadParts.length === 1
        ? this.payloadParts[0]!
        : Buffer.concat(this.payloadParts, this.payloadBytes);
    this.head = null;
    this.payloadParts = [];
    this.payloadBytes = 0;
    return { sessionId: head.sessionId, offset: head.offset, data };
  }
}
