/**
 * What every discovery source hands on: a FoundPeer whose fields were checked here, since they come
 * from anyone on the network (a TXT record, a probed port, a hand-edited file). A record with a bad
 * name, URL or fingerprint is dropped whole; a bad version is dropped alone.
 */
import { TowerHttpClient } from '../../client/http-client.js';
import { API } from '../../protocol/api.js';
import { type FoundBy, type FoundPeer, peerName } from '../../protocol/federation.js';

export const MAX_URL_LENGTH = 200;
/** A probe's answer is three short strings: anything larger is not a Tower. */
const MAX_PROBE_BYTES = 4096;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const VERSION = /^[A-Za-z0-9.+_-]{1,40}$/;

export interface Candidate {
  name?: unknown;
  url?: unknown;
  fingerprint?: unknown;
  version?: unknown;
}

/** The candidate as a FoundPeer, or why it is refused. */
export function checkFound(candidate: Candidate, foundBy: FoundBy): FoundPeer | { refused: string } {
  const name = peerName.safeParse(candidate.name);
  if (!name.success) return { refused: `bad name ${visible(candidate.name)}` };
  const url = checkUrl(candidate.url);
  if (url === null) return { refused: `${name.data}: bad url ${visible(candidate.url)}` };
  const fingerprint =
    candidate.fingerprint === undefined || candidate.fingerprint === null ? null : candidate.fingerprint;
  if (fingerprint !== null && !(typeof fingerprint === 'string' && FINGERPRINT.test(fingerprint))) {
    return { refused: `${name.data}: bad fingerprint ${visible(fingerprint)}` };
  }
  const version =
    typeof candidate.version === 'string' && VERSION.test(candidate.version) ? candidate.version : null;
  return { name: name.data, url, fingerprint, version, found_by: foundBy };
}

/** An http(s) URL with nothing but scheme, host and port (no credentials, no path), or null. */
export function checkUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > MAX_URL_LENGTH || /[^\x21-\x7e]/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== ''))
    return null;
  return url.origin;
}

/** A value from the network, shown in a message: cut short, control characters escaped. */
export function visible(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** Ask a URL who is there (GET /api/tower), within `timeoutMs`: a FoundPeer, or the error. */
export async function probeTower(url: string, foundBy: FoundBy, timeoutMs: number): Promise<FoundPeer> {
  const client = new TowerHttpClient({ url, timeoutMs, maxReplyBytes: MAX_PROBE_BYTES });
  const reply = await client.call(API.towerIdentity);
  const found = checkFound({ ...reply, url }, foundBy);
  if ('refused' in found) throw new Error(`${url} answered as a Tower, but ${found.refused}`);
  return found;
}

/** At most `limit` at a time, every item tried: a failure is the item's result, not the batch's. */
export async function eachBounded<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await work(items[index]!) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
