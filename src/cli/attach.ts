/**
 * `tower attach`: the local terminal becomes a view of the session.
 * The screen is painted from a snapshot, then bytes follow from the snapshot's offset.
 */
import type { TowerClient } from '../client/client.js';
import { QueryReplyFilter } from './query-replies.js';

const DETACH_KEY = 0x1c; // Ctrl-\

/** Modes a program may have left on in the local terminal; turned off on detach. */
const RESTORE_TERMINAL =
  '\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b[?25h\x1b[0m\r\n';

export async function attach(client: TowerClient, sessionId: string): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const sessions = await client.list();
  const session = sessions.find((s) => s.id === sessionId);
  if (!session) throw new Error(`unknown session: ${sessionId}`);
  const live = session.status === 'running';

  if (live && stdout.isTTY) await client.resize(sessionId, stdout.columns, stdout.rows);

  const replies = new QueryReplyFilter();
  let painted = false;
  const pendingOutput: Buffer[] = [];
  client.on('snapshot', (snapshot) => {
    if (snapshot.session_id !== sessionId) return;
    stdout.write(`\x1bc${snapshot.data}`);
    painted = true;
    for (const chunk of pendingOutput.splice(0)) stdout.write(chunk);
  });
  client.on('output', ({ sessionId: id, data }) => {
    if (id !== sessionId) return;
    replies.sawOutput(data);
    if (painted) stdout.write(data);
    else pendingOutput.push(data);
  });

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (message: string, code: number) => {
      if (finished) return;
      finished = true;
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      stdout.off('resize', onResize);
      stdout.write(`${stdout.isTTY ? RESTORE_TERMINAL : ''}${message}\r\n`);
      resolve(code);
    };
    const onResize = () => {
      client.resize(sessionId, stdout.columns, stdout.rows).catch(() => {});
    };
    client.on('closed', ({ sessionId: id, exitCode, signal }) => {
      if (id !== sessionId) return;
      const how = signal ? `signal ${signal}` : `code ${exitCode}`;
      finish(`[session ${sessionId} ${live ? 'exited' : 'is not running'} (${how})]`, 0);
    });
    client.on('disconnect', () => finish('[lost connection to the Tower daemon]', 1));

    if (live) {
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', (chunk: Buffer) => {
        const detachAt = chunk.indexOf(DETACH_KEY);
        const input = detachAt === -1 ? chunk : chunk.subarray(0, detachAt);
        const cleaned = replies.filterInput(input);
        if (cleaned.length > 0) client.input(sessionId, cleaned);
        if (detachAt !== -1) {
          client.unsubscribe(sessionId).catch(() => {});
          finish(`[detached from ${sessionId}; it keeps running]`, 0);
        }
      });
      stdout.on('resize', onResize);
    }
    client
      .subscribe(sessionId, { snapshot: true })
      .catch((error: Error) => finish(`tower: ${error.message}`, 1));
  });
}
