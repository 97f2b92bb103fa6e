/**
 * How a subscription's output, snapshots and end become socket messages: offsets and snapshots
 * for clients that asked for them, a reset-and-redraw for agor-pty clients that did not.
 */

import { encodeFrameHead } from '../protocol/binary-frame.js';
import type { DaemonMessage, DaemonMessageOf } from '../protocol/index.js';
import { encodeOutputLine } from '../protocol/output-frame.js';
import type { OutputSink } from '../sessions/subscription.js';
import type { PtyExit } from '../terminal/pty.js';
import type { ScreenSnapshot } from '../terminal/screen.js';

/** Sent before a redraw to clients that did not ask for snapshots: a full terminal reset. */
const RESET = '\x1bc';

export interface MessageWriter {
  /** Each returns whether the transport can take more now. */
  send(message: DaemonMessage): boolean;
  sendOutput(line: Buffer): boolean;
  /** A binary frame: its head, then bytes from the journal's memory (immutable, so never copied). */
  sendFrame(head: Buffer, data: Buffer): boolean;
  canWrite(): boolean;
}

export function subscriptionSink(
  writer: MessageWriter,
  sessionId: string,
  request: { snapshot?: boolean; from_offset?: number; binary?: boolean },
  onClosed: () => void,
): OutputSink {
  const wantsSnapshots = request.snapshot === true || request.from_offset !== undefined;
  const output =
    request.binary === true
      ? (offset: number, data: Buffer) =>
          writer.sendFrame(encodeFrameHead(sessionId, offset, data.length), data)
      : (offset: number, data: Buffer) => writer.sendOutput(encodeOutputLine(sessionId, offset, data));
  return {
    ready: () => writer.canWrite(),
    output,
    snapshot: (snapshot) =>
      wantsSnapshots
        ? writer.send(snapshotMessage(sessionId, snapshot))
        : writer.send({
            type: 'session_output',
            session_id: sessionId,
            data: Buffer.from(RESET + snapshot.data, 'utf8').toString('base64'),
          }),
    closed: (exit) => {
      onClosed();
      writer.send(closedMessage(sessionId, exit));
    },
  };
}

export function snapshotMessage(
  sessionId: string,
  snapshot: ScreenSnapshot,
  reqId?: string | number,
): DaemonMessageOf<'snapshot'> {
  return {
    type: 'snapshot',
    session_id: sessionId,
    offset: snapshot.offset,
    cols: snapshot.cols,
    rows: snapshot.rows,
    cursor_x: snapshot.cursorX,
    cursor_y: snapshot.cursorY,
    alt_screen: snapshot.altScreen,
    data: snapshot.data,
    ...(snapshot.screenOnly ? { screen_only: true } : {}),
    req_id: reqId,
  };
}

export function closedMessage(
  sessionId: string,
  exit: PtyExit | null,
  reqId?: string | number,
): DaemonMessageOf<'session_closed'> {
  return {
    type: 'session_closed',
    session_id: sessionId,
    exit_code: exit?.exitCode ?? null,
    signal: exit?.signal ?? null,
    req_id: reqId,
  };
}
