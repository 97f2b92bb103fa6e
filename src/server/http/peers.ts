/** A peer named in a fleet id, as this Tower calls it (404 when it is not one of its peers). */
import type { TowerHttpClient } from '../../client/http-client.js';
import { peerClient } from '../../federation/peer-client.js';
import type { HttpContext } from './context.js';
import { HttpError } from './errors.js';

export function peerOf(ctx: HttpContext, name: string): TowerHttpClient {
  const record = ctx.federation.peers.get(name);
  if (!record) throw new HttpError(404, 'unknown_peer', `unknown peer: ${name}`);
  if (record.token === null)
    throw new HttpError(403, 'no_credential', `${name} gave this Tower no credential`);
  return peerClient(ctx.federation.identity, record);
}
