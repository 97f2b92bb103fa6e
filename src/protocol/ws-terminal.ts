/**
 * The WebSocket terminal's frames as bytes: output frames (8-byte big-endian offset, then raw bytes)
 * and the JSON text frames, checked by the schemas in web.ts. Shared by the server's route, the
 * federation relay and the client, so every side refuses the same malformed frames the same way.
 */
import type { z } from 'zod';
import { describeParseError } from './validation.js';
import { OUTPUT_FRAME_HEADER_BYTES, WsClientMessage, WsServerMessage } from './web.js';

export type WsData = Buffer | ArrayBuffer | Buffer[];

export function wsBytes(raw: WsData): Buffer {
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return raw instanceof ArrayBuffer ? Buffer.from(raw) : raw;
}

export function wsByteLength(raw: WsData): number {
  return Array.isArray(raw) ? raw.reduce((sum, part) => sum + part.length, 0) : raw.byteLength;
}

export function encodeOutputFrame(offset: number, data: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(OUTPUT_FRAME_HEADER_BYTES + data.length);
  frame.writeBigUInt64BE(BigInt(offset), 0);
  data.copy(frame, OUTPUT_FRAME_HEADER_BYTES);
  return frame;
}

/** null: too short, or an offset past what a number holds exactly. */
export function decodeOutputFrame(frame: Buffer): { offset: number; data: Buffer } | null {
  if (frame.length < OUTPUT_FRAME_HEADER_BYTES) return null;
  const offset = frame.readBigUInt64BE(0);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { offset: Number(offset), data: frame.subarray(OUTPUT_FRAME_HEADER_BYTES) };
}

export type Decoded<T> = { ok: true; message: T } | { ok: false; message: string };

function decodeJson<S extends z.ZodType>(schema: S, raw: WsData): Decoded<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(wsBytes(raw).toString('utf8'));
  } catch {
    return { ok: false, message: 'malformed JSON: each text frame must be one JSON object' };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  const type = json !== null && typeof json === 'object' ? (json as { type?: unknown }).type : undefined;
  return {
    ok: false,
    message:
      typeof type === 'string' ? describeParseError(type, parsed.error) : 'message has no string "type"',
  };
}

/** A frame from a terminal's client: only JSON text frames are messages. */
export function decodeWsClientFrame(raw: WsData, isBinary: boolean): Decoded<WsClientMessage> {
  if (isBinary) return { ok: false, message: 'binary frames are not accepted: send JSON text frames' };
  return decodeJson(WsClientMessage, raw);
}
export const decodeWsServerMessage = (raw: WsData): Decoded<WsServerMessage> =>
  decodeJson(WsServerMessage, raw);

/**
 * Output flow control of one terminal socket: stop reading the source while the client is behind
 * (unACKed output or unsent bytes above `high`), read again once both are below `low`.
 */
export class ReadWindow {
  private reading = true;

  constructor(
    private readonly limits: { unackedHigh: number; bufferedHigh: number; low: number },
    private readonly source: { pause(): void; resume(): void },
  ) {}

  update(unacked: number, buffered: number): void {
    const { unackedHigh, bufferedHigh, low } = this.limits;
    if (this.reading && (unacked > unackedHigh || buffered > bufferedHigh)) {
      this.reading = false;
      this.source.pause();
    } else if (!this.reading && unacked <= low && buffered <= low) {
      this.reading = true;
      this.source.resume();
    }
  }
}
