/**
 * A peer session's console stream (server-sent events, resumable by offset) read through this Tower:
 * when the link to the peer drops or the peer restarts, it is read again from the offset last passed
 * on, so the reader here sees neither a gap nor a byte twice. Events are checked and bounded.
 */

import type { TowerHttpClient } from '../client/http-client.js';
import { TowerHttpClient as Client } from '../client/http-client.js';
import { API } from '../protocol/api.js';
import { SSE_SILENT_LINK_MS } from '../protocol/limits.js';
import { ConsoleEvent } from '../protocol/web.js';

/** A peer's event longer than this ends the stream (the peer sends output in far smaller pieces). */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** How long a peer may stay unreachable before the reader here is told and the stream ends. */
const GIVE_UP_AFTER_MS = 60_000;
const RETRY_MS = [250, 500, 1000, 2000];

export interface ConsoleSink {
  /** False: the reader is behind; wait for `drained` before the next. */
  send(event: ConsoleEvent, id?: number): boolean;
  drained(): Promise<void>;
  fail(message: string): void;
}

export async function relayConsole(
  peer: TowerHttpClient,
  peerName: string,
  remoteId: string,
  from: number | undefined,
  sink: ConsoleSink,
  signal: AbortSignal,
): Promise<void> {
  let offset = from;
  let startedSent = false;
  let failingSince: number | null = null;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const response = await peer.open('GET', Client.path(API.stream, remoteId), {
        headers: offset === undefined ? {} : { 'last-event-id': String(offset) },
        signal,
      });
      for await (const event of events(response, signal)) {
        failingSince = null;
        attempt = 0;
        if (event.event === 'started') {
          if (offset !== undefined && event.offset !== offset) {
            return sink.fail(
              `${peerName} resumed at offset ${event.offset}, not ${offset}: output between is gone`,
            );
          }
          offset = event.offset;
          if (startedSent) continue;
          startedSent = true;
          if (!sink.send(event, event.offset)) await sink.drained();
          continue;
        }
        if (event.event === 'error') return sink.fail(`${peerName}: ${event.message}`);
        if (event.event === 'output') offset = event.offset;
        if (!sink.send(event, event.event === 'output' ? event.offset : undefined)) await sink.drained();
      }
    } catch (error) {
      if (signal.aborted) return;
      const { status } = error as { status?: number };
      // The peer answered and refused (unknown session, no credential): trying again will not help.
      if (status !== undefined && status >= 400 && status < 500) {
        return sink.fail(`${peerName}: ${(error as Error).message}`);
      }
      if (error instanceof BadEvent) return sink.fail(`${peerName}: ${error.message}`);
    }
    failingSince ??= Date.now();
    if (Date.now() - failingSince > GIVE_UP_AFTER_MS) {
      return sink.fail(
        `${peerName} unreachable for ${GIVE_UP_AFTER_MS / 1000} s; read again from offset ${offset}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
  }
}

class BadEvent extends Error {}

/** The events of a text/event-stream body; comments (keepalives) skipped. */
async function* events(response: Response, signal: AbortSignal): AsyncGenerator<ConsoleEvent> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await readOrSilence(reader);
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
        end = buffer.indexOf('\n\n');
      }
      if (buffer.length > MAX_EVENT_BYTES) throw new BadEvent(`an event over ${MAX_EVENT_BYTES} bytes`);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    cancel();
  }
}

/**
 * The next piece of the body, or a SilentLink error when the peer said nothing, not even its
 * keepalive, for SSE_SILENT_LINK_MS: the link died without a reset, and only a new one can go on.
 */
async function readOrSilence(reader: ReadableStreamDefaultReader<Uint8Array>) {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SilentLink()), SSE_SILENT_LINK_MS);
  });
  try {
    return await Promise.race([reader.read(), silence]);
  } finally {
    clearTimeout(timer);
  }
}

class SilentLink extends Error {}

function parseEvent(block: string): ConsoleEvent | null {
  const data = block
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''))
    .join('\n');
  if (data === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new BadEvent('an event that is not JSON');
  }
  const checked = ConsoleEvent.safeParse(parsed);
  if (!checked.success) throw new BadEvent('a malformed console event');
  return checked.data;
}
