/**
 * `tower logs PEER/ID`: a peer session's raw output through the local `tower serve`. The journal is
 * read over HTTP; with --follow the bytes after it come through the serve's terminal relay from that
 * exact offset (resumed by offset when a link drops) until the session's exit, which the stream sends
 * after its last byte, also when the session had ended before. Every byte once, in order.
 */
import { errorOf, TowerHttpClient } from '../client/http-client.js';
import { localWebEndpoint } from '../client/local-web.js';
import { WebTerminalClient } from '../client/web-terminal.js';
import { API } from '../protocol/api.js';
import { resolveRemote } from './fleet.js';

/** GET output sends at most 16 MiB a request; a larger journal is read in turns. */
const OUTPUT_REQUESTS_MAX = 1024;
const OUTPUT_REPLY_BYTES = 16 * 1024 * 1024 + 1024;

export async function remoteLogs(
  stateDir: string,
  ref: string,
  from: number | undefined,
  follow: boolean,
): Promise<void> {
  const { web, id } = await resolveRemote(stateDir, ref, OUTPUT_REPLY_BYTES);
  const printed = await copyJournal(web, id, from);
  if (follow) await followStream(localWebEndpoint(stateDir), id, printed);
}

/** The journal from `from` to its end as of now; returns the offset after the last byte printed. */
async function copyJournal(web: TowerHttpClient, id: string, from: number | undefined): Promise<number> {
  let offset = from;
  for (let request = 0; request < OUTPUT_REQUESTS_MAX; request++) {
    const reply = await web.raw('GET', TowerHttpClient.path(API.output, id), { query: { from: offset } });
    if (reply.status !== 200) throw errorOf(reply.status, reply.body.toString('utf8'));
    await write(reply.body);
    const start = Number(reply.headers.get('x-tower-offset'));
    const last = Number(reply.headers.get('x-tower-last-offset'));
    offset = start + reply.body.length;
    if (reply.body.length === 0 || offset >= last) break;
  }
  return offset ?? 0;
}

/** The output after `offset` as it comes, until the session's exit. */
function followStream(endpoint: { url: string; token: string }, id: string, offset: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const client: WebTerminalClient = new WebTerminalClient(
      { ...endpoint, sessionId: id, offset },
      {
        output: (at, data) => {
          const end = at + data.length;
          // Acknowledged once stdout took it: a slow pipe holds the session's output back, not memory.
          if (process.stdout.write(data)) client.ack(end);
          else {
            client.pause();
            process.stdout.once('drain', () => {
              client.ack(end);
              client.resume();
            });
          }
        },
        exit: () => {
          client.close();
          resolve();
        },
        state: (state, detail) => {
          if (state === 'reconnecting') process.stderr.write(`tower: ${id}: link lost, ${detail}\n`);
        },
        end: (end) => {
          if (end.error !== 'closed') reject(new Error(`${id}: ${end.message}`));
        },
      },
    );
  });
}

/** stdout may be a slow pipe: wait for it rather than buffer without bound. */
function write(data: Buffer): Promise<void> {
  if (data.length === 0 || process.stdout.write(data)) return Promise.resolve();
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}
