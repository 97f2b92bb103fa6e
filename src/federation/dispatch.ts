/**
 * `POST /api/dispatch` over the fleet: here when an agent here fits, else on a peer (an idle agent
 * there, or room to start one), with the reason. A dispatch a peer asked for is never sent on.
 */
import type { TowerClient } from '../client/client.js';
import { TowerHttpError } from '../client/http-client.js';
import { API } from '../protocol/api.js';
import { fleetId } from '../protocol/federation.js';
import type { SessionInfo } from '../protocol/socket.js';
import type { DispatchBody, DispatchResponse } from '../protocol/web.js';
import type { Identity } from '../state/identity.js';
import type { PeerStore } from '../state/peers.js';
import { chooseDispatch, type PeerCandidate } from './dispatch-choice.js';
import { peerClient } from './peer-client.js';

/** A peer slower than this to list its sessions is left out of the choice. */
const PEER_LIST_TIMEOUT_MS = 1500;

export interface FleetDispatchDeps {
  client: TowerClient;
  peers: PeerStore;
  identity: Pick<Identity, 'fingerprint'>;
  /** Sessions of a runtime dispatch may start on one machine (serve's --dispatch-limit). */
  dispatchLimit: number;
}

type Body = import('zod').infer<typeof DispatchBody>;
type Reply = import('zod').infer<typeof DispatchResponse>;

export async function dispatchAcrossFleet(
  deps: FleetDispatchDeps,
  body: Body,
  fromPeer: boolean,
): Promise<Reply> {
  const { fleet, peer, ...fields } = body;
  const limit = fields.max_sessions ?? deps.dispatchLimit;
  if (peer !== undefined && !fromPeer) return onPeer(deps, peer, fields, `sent to ${peer}, as asked`);
  const local = await deps.client.list();
  const candidates = fleet && !fromPeer ? await peerCandidates(deps) : [];
  const choice = chooseDispatch({ runtime: fields.runtime, cwd: fields.cwd, limit }, local, candidates);
  if (choice.peer !== null) return onPeer(deps, choice.peer, fields, choice.reason);
  const reply = await deps.client.dispatch({
    runtime: fields.runtime,
    text: fields.text,
    cwd: fields.cwd,
    maxSessions: limit,
    substrate: fields.substrate,
  });
  return {
    session_id: reply.session_id,
    spawned: reply.spawned,
    prompt: reply.prompt,
    peer: null,
    reason: choice.reason,
  };
}

async function onPeer(
  deps: FleetDispatchDeps,
  name: string,
  fields: Omit<Body, 'fleet' | 'peer'>,
  reason: string,
): Promise<Reply> {
  const record = deps.peers.get(name);
  if (!record) throw new TowerHttpError(404, 'unknown_peer', `unknown peer: ${name}`);
  const reply = await peerClient(deps.identity, record).call(API.dispatch, { body: fields });
  return { ...reply, session_id: fleetId(name, reply.session_id), peer: name, reason };
}

async function peerCandidates(deps: FleetDispatchDeps): Promise<PeerCandidate[]> {
  const usable = deps.peers.all().filter((record) => record.token !== null);
  const listed = await Promise.all(
    usable.map(async (record): Promise<PeerCandidate | null> => {
      const started = performance.now();
      try {
        const { sessions } = await peerClient(deps.identity, record, {
          timeoutMs: PEER_LIST_TIMEOUT_MS,
        }).call(API.listSessions);
        return { name: record.name, rttMs: performance.now() - started, sessions: sessions as SessionInfo[] };
      } catch {
        return null;
      }
    }),
  );
  return listed.filter((candidate) => candidate !== null);
}
