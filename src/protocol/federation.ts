/**
 * Federation wire atoms: peer names, fleet ids (`PEER/ID`), what `tower peers` shows. Pairing's
 * messages and the peer routes' bodies are added beside these.
 */
import { z } from 'zod';
import { SessionInfo } from './socket.js';

/** A peer's name: what a fleet id starts with, so no `/` and nothing a shell or URL would mangle. */
export const peerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a peer name is letters, digits, . _ - (at most 63)');

/** Sent by a Tower calling a peer: the caller's identity fingerprint. Its lists are never federated again. */
export const PEER_HEADER = 'x-tower-peer';

export const PeerScope = z.enum(['full', 'view']).describe('full: control; view: watch only');
export type PeerScope = z.infer<typeof PeerScope>;

export const PeerState = z.enum(['online', 'offline', 'unpaired', 'refused']);
export type PeerState = z.infer<typeof PeerState>;

export const FoundBy = z.enum(['paired', 'manual', 'static', 'mdns', 'tailscale']);
export type FoundBy = z.infer<typeof FoundBy>;

export const PeerInfo = z
  .object({
    name: z.string(),
    url: z.string(),
    found_by: z.array(FoundBy),
    state: PeerState,
    rtt_ms: z.number().nullable(),
    version: z.string().nullable(),
    fingerprint: z.string().nullable().describe('SHA256:… of its identity key, when known'),
    scope: PeerScope.nullable().describe('what this Tower may do on it'),
    last_seen: z.string().nullable(),
    error: z.string().nullable(),
  })
  .describe('A peer as `tower peers` shows it.');
export type PeerInfo = z.infer<typeof PeerInfo>;

/** `PEER/ID` names a session on a peer; a plain id is local. */
export function splitFleetId(id: string): { peer: string | null; id: string } {
  const slash = id.indexOf('/');
  return slash < 0 ? { peer: null, id } : { peer: id.slice(0, slash), id: id.slice(slash + 1) };
}

export function fleetId(peer: string | null, id: string): string {
  return peer === null ? id : `${peer}/${id}`;
}

/** A Tower that discovery found (mDNS, Tailscale, a static entry): found, never trusted by that alone. */
export const FoundPeer = z.object({
  name: z.string(),
  url: z.string(),
  fingerprint: z.string().nullable(),
  version: z.string().nullable(),
  found_by: FoundBy,
});
export type FoundPeer = z.infer<typeof FoundPeer>;

/** What a Tower tells anyone who asks (GET /api/tower): enough to recognise it, nothing to act as it. */
export const TowerIdentityResponse = z.object({
  name: z.string().max(200),
  fingerprint: z.string().max(200),
  version: z.string().max(200),
});
export type TowerIdentityResponse = z.infer<typeof TowerIdentityResponse>;

export const DiscoverySource = z.enum(['mdns', 'tailscale', 'static']);
export type DiscoverySource = z.infer<typeof DiscoverySource>;

export const DiscoveryResponse = z.object({
  found: z.array(FoundPeer).describe('Towers found and not trusted: pairing alone makes a peer'),
  sources: z.array(
    z.object({
      source: DiscoverySource,
      enabled: z.boolean(),
      error: z.string().nullable().describe('why the last look failed, if it did'),
    }),
  ),
});
export type DiscoveryResponse = z.infer<typeof DiscoveryResponse>;

/** A session in a fleet list: a peer's carries `peer` and the id `PEER/ID`; this Tower's has neither. */
export const FleetSession = SessionInfo.extend({
  peer: z.string().optional().describe('the peer it runs on; absent: this Tower'),
});
export type FleetSession = z.infer<typeof FleetSession>;

/** How a peer answered the last time this Tower asked it for its sessions. */
export const PeerStatus = z.object({
  name: z.string(),
  state: PeerState,
  stale: z.boolean().describe('its sessions are the last ones it gave, not current'),
  error: z.string().nullable(),
});
export type PeerStatus = z.infer<typeof PeerStatus>;

export const SessionListQuery = z.object({
  scope: z
    .enum(['local', 'all'])
    .optional()
    .describe('all: also every peer (never for a request from a peer)'),
  peer: peerName.optional().describe("only this peer's sessions"),
});

export const FleetSessionListResponse = z.object({
  sessions: z.array(FleetSession),
  tower: z
    .object({ name: z.string(), version: z.string(), fingerprint: z.string(), scope: PeerScope })
    .optional()
    .describe('this Tower, and what the caller may do on it'),
  peers: z.array(PeerStatus).optional().describe('scope=all or peer=: how each peer answered'),
});
export type FleetSessionListResponse = z.infer<typeof FleetSessionListResponse>;

export const PeerListResponse = z.object({ peers: z.array(PeerInfo) });
