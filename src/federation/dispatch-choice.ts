/**
 * Where a fleet dispatch goes. Reusing an idle agent beats starting one, and this machine beats a
 * peer: an idle session here; else a new one here while under the limit; else an idle one on a peer
 * (the nearest first); else a new one on a peer with room; else the shortest queue here.
 */
import type { SessionInfo } from '../protocol/socket.js';

export interface DispatchRequest {
  runtime: string;
  cwd?: string;
  /** Sessions of the runtime a machine may run before dispatch stops starting more there. */
  limit: number;
}

export interface PeerCandidate {
  name: string;
  rttMs: number | null;
  /** Its own sessions (ids as it knows them). */
  sessions: SessionInfo[];
}

export interface DispatchChoice {
  /** null: this machine. */
  peer: string | null;
  reason: string;
}

function running(sessions: SessionInfo[], request: DispatchRequest): SessionInfo[] {
  return sessions.filter(
    (session) =>
      session.status === 'running' &&
      session.runtime === request.runtime &&
      (request.cwd === undefined || session.cwd === request.cwd),
  );
}

const isIdle = (session: SessionInfo) => session.agent.state === 'idle' && session.queued_prompts === 0;

export function chooseDispatch(
  request: DispatchRequest,
  local: SessionInfo[],
  peers: PeerCandidate[],
): DispatchChoice {
  const here = running(local, request);
  const what = `${request.runtime} session`;
  if (here.some(isIdle)) return { peer: null, reason: `an idle ${what} here` };
  if (here.length < request.limit) {
    return {
      peer: null,
      reason: `none idle here; ${here.length} of ${request.limit} running, so one starts here`,
    };
  }
  const nearest = [...peers].sort((a, b) => (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity));
  const idlePeer = nearest.find((peer) => running(peer.sessions, request).some(isIdle));
  if (idlePeer)
    return {
      peer: idlePeer.name,
      reason: `none idle here (${here.length} running, the limit); an idle ${what} on ${idlePeer.name}`,
    };
  const roomy = nearest.find((peer) => running(peer.sessions, request).length < request.limit);
  if (roomy) {
    return {
      peer: roomy.name,
      reason: `this machine is at its limit of ${request.limit} busy ${what}s; one starts on ${roomy.name}`,
    };
  }
  return {
    peer: null,
    reason: `every machine is at its limit of ${request.limit}; queued here behind the shortest queue`,
  };
}
