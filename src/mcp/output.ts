/** read_output: a bounded range of a session's journal, cut on a whole character, with where to read on. */
import { errorOf, TowerHttpClient } from '../client/http-client.js';
import { API } from '../protocol/api.js';
import { plainText, sameId, wholeUtf8 } from './format.js';

export async function readOutput(
  client: TowerHttpClient,
  id: string,
  offset: number | undefined,
  maxBytes: number,
  raw: boolean,
) {
  let from = offset;
  if (from === undefined) {
    const { session } = await client.call(API.getSession, { id });
    from = Math.max(session.first_offset, session.last_offset - maxBytes);
  }
  const reply = await client.raw(API.output.method, TowerHttpClient.path(API.output, id), {
    query: { from, to: from + maxBytes },
  });
  if (reply.status >= 300) throw errorOf(reply.status, reply.body.toString('utf8'));
  const header = (name: string) => Number(reply.headers.get(name) ?? Number.NaN);
  const start = header('x-tower-offset');
  const last = header('x-tower-last-offset');
  const body = reply.body.subarray(0, maxBytes);
  const whole = wholeUtf8(body);
  const text = body.subarray(0, whole).toString('utf8');
  const next = start + whole;
  return {
    ...sameId(id),
    offset: start,
    next_offset: next,
    first_offset: header('x-tower-first-offset'),
    last_offset: last,
    more: next < last,
    text: raw ? text : plainText(text),
  };
}
