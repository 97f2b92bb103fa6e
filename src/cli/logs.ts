/**
 * `tower logs`: a session's raw output bytes from the journal, and with --follow the bytes that come
 * after, until the session ends. Every byte is printed once, in order, by its offset: a follower that
 * loses the daemon waits for it and resumes at the next offset it needs.
 */
import { ClientError, type ConnectOptions, TowerClient } from '../client/client.js';
import { followDaemon } from '../client/reconnect.js';
import type { OutputGap } from '../protocol/index.js';
import { escapeControls } from './escape.js';

export const DAEMON_AWAY = 'tower: the daemon went away; waiting for it to come back (Ctrl-C stops)\n';
export const DAEMON_BACK = 'tower: connected to the daemon again\n';

const READ_BYTES = 512 * 1024;

export async function printLogs(
  options: ConnectOptions,
  ref: string,
  from: number | undefined,
  follow: boolean,
): Promise<void> {
  if (!follow) {
    const client = await TowerClient.connect(options);
    try {
      await copyRange(client, await client.sessionId(ref), { offset: from }, Number.POSITIVE_INFINITY);
    } finally {
      client.end();
    }
    return;
  }
  let id: string | undefined;
  const cursor: Cursor = { offset: from };
  const ended = await followDaemon(
    options,
    async (client) => {
      id ??= await client.sessionId(ref);
      await copyRange(client, id, cursor, Number.POSITIVE_INFINITY);
      await followOutput(client, id, cursor);
      return client.resolveSession(id);
    },
    { away: () => process.stderr.write(DAEMON_AWAY), back: () => process.stderr.write(DAEMON_BACK) },
  );
  if (ended.status === 'lost') {
    process.stderr.write(
      `tower: session ${escapeControls(ended.id)} was lost: the daemon stopped while it ran; ` +
        'its output up to then is above\n',
    );
  }
}

const GAP_REASONS: Record<OutputGap['reason'], string> = {
  not_saved: 'were never saved to disk (it was full) and are no longer in memory',
  damaged: 'are damaged on disk (checksum mismatch)',
  unreadable: 'cannot be read from disk',
};

/** Said on stderr where the printed bytes jump over a gap. */
function describeSkipped(gap: OutputGap): string {
  return `tower: skipped bytes ${gap.from}-${gap.to}: they ${GAP_REASONS[gap.reason]}\n`;
}

interface Cursor {
  /** The next offset to print; undefined: the earliest retained. */
  offset: number | undefined;
}

/** Print the journal from the cursor up to `to` or its end, moving the cursor with every chunk. */
async function copyRange(client: TowerClient, id: string, cursor: Cursor, to: number): Promise<void> {
  for (;;) {
    const want = cursor.offset === undefined ? READ_BYTES : Math.min(READ_BYTES, to - cursor.offset);
    if (want <= 0) return;
    const chunk = await client.readOutput(id, cursor.offset, want);
    if (chunk.skipped) process.stderr.write(describeSkipped(chunk.skipped));
    await write(chunk.data);
    cursor.offset = chunk.offset + chunk.data.length;
    if (cursor.offset >= chunk.lastOffset || cursor.offset >= to) return;
  }
}

/**
 * Subscribe from the cursor's offset and print until the session ends, moving the cursor with every
 * byte printed. Frames are taken by their offsets: a gap (a subscriber resynced after falling behind)
 * is filled from the journal, a repeat skipped. Rejects with `disconnected` if the daemon goes away.
 */
function followOutput(client: TowerClient, id: string, cursor: Cursor): Promise<void> {
  let queue = Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const fail = (error: unknown) => {
      queue = queue.then(() => reject(error));
    };
    client.on('output', ({ sessionId, offset: at, data }) => {
      if (sessionId !== id || at === undefined) return;
      queue = queue
        .then(async () => {
          const next = cursor.offset ?? at;
          if (at > next) await copyRange(client, id, cursor, at);
          const from = cursor.offset ?? at;
          if (at + data.length <= from) return;
          await write(data.subarray(from - at));
          cursor.offset = at + data.length;
        })
        .catch(fail);
    });
    client.on('closed', ({ sessionId }) => {
      if (sessionId === id) queue = queue.then(resolve);
    });
    client.on('disconnect', () => fail(new ClientError('disconnected', 'lost the connection to the daemon')));
    client.subscribe(id, { fromOffset: cursor.offset }).catch(fail);
  });
}

/** stdout may be a slow pipe: wait for it rather than buffer without bound. */
function write(data: Buffer): Promise<void> {
  if (data.length === 0 || process.stdout.write(data)) return Promise.resolve();
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}
