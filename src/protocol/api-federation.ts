/**
 * The routes of federation (pairing, identity, discovery, peers) and of the MCP endpoint: part of the
 * one route table in api.ts, kept apart so each file stays readable.
 */
import { DiscoveryResponse, PeerListResponse, TowerIdentityResponse } from './federation.js';
import {
  PairedPeer,
  PairFinishBody,
  PairFinishResponse,
  PairOffer,
  PairOfferBody,
  PairOfferState,
  PairOfferStateQuery,
  PairStartBody,
  PairStartResponse,
  PairWithBody,
} from './pairing.js';
import { json, type RouteSpec } from './route-spec.js';
import { CreateSessionBody, OkResponse, SessionResponse } from './web.js';

export const FEDERATION_ROUTES = {
  pairOffer: {
    method: 'POST',
    url: '/api/peers/pair/offer',
    summary:
      'Open a pairing offer: a one-time code for another Tower to pair with this one (replaces an open one). ' +
      'Only the owner (the admin token, not a peer) may.',
    access: 'admin',
    body: PairOfferBody,
    responses: { 201: json('the code, shown once', PairOffer) },
  },
  pairOfferState: {
    method: 'GET',
    url: '/api/peers/pair/offer/:id',
    summary: "A pairing offer's state; waits up to wait_ms for a change past `seen`",
    access: 'admin',
    query: PairOfferStateQuery,
    responses: { 200: json('its state', PairOfferState) },
    errors: { 404: 'unknown_offer' },
  },
  pairOfferCancel: {
    method: 'DELETE',
    url: '/api/peers/pair/offer/:id',
    summary: 'Withdraw a pairing offer',
    access: 'admin',
    responses: { 200: json('withdrawn', OkResponse) },
    errors: { 404: 'unknown_offer' },
  },
  pairWith: {
    method: 'POST',
    url: '/api/peers/pair',
    summary:
      'Pair with the Tower at url that shows the code: SPAKE2 on the code, then peer tokens exchanged ' +
      'sealed under its key; both store the other. Only the owner may.',
    access: 'admin',
    body: PairWithBody,
    responses: { 201: json('the peer, as stored', PairedPeer) },
    errors: {
      403: 'wrong_code',
      404: 'no_pairing_offer',
      409: 'name_taken',
      410: 'pairing_expired, pairing_void',
      502: 'peer_unreachable, bad_pairing',
    },
  },
  pairStart: {
    method: 'POST',
    url: '/api/pair/start',
    summary: "Pairing message 1 (from the Tower that typed the code): its SPAKE2 share; this one's back",
    access: 'none',
    fromPeers: true,
    body: PairStartBody,
    responses: { 200: json('SPAKE2 pB and the confirmation cB', PairStartResponse) },
    errors: {
      404: 'no_pairing_offer',
      409: 'name_taken',
      410: 'pairing_expired, pairing_void',
      429: 'too_many_attempts',
    },
  },
  pairFinish: {
    method: 'POST',
    url: '/api/pair/finish',
    summary:
      "Pairing message 2: the starter's confirmation cA and its sealed token; this one's sealed token back",
    access: 'none',
    fromPeers: true,
    body: PairFinishBody,
    responses: { 200: json('the sealed token', PairFinishResponse) },
    errors: { 403: 'wrong_code', 404: 'unknown_exchange', 410: 'pairing_void', 429: 'too_many_attempts' },
  },
  // ---- discovery
  towerIdentity: {
    method: 'GET',
    url: '/api/tower',
    summary:
      "This Tower's name, identity fingerprint and version, for discovery's probes (what mDNS advertises " +
      'anyway; never a credential)',
    access: 'none',
    fromPeers: true,
    responses: { 200: json('who this Tower says it is', TowerIdentityResponse) },
  },
  discovery: {
    method: 'GET',
    url: '/api/discovery',
    summary: 'Towers found by mDNS, Tailscale and the static list in federation.json: found, not trusted',
    access: 'read',
    responses: { 200: json('what each source found', DiscoveryResponse) },
  },
  // ---- fleet
  peers: {
    method: 'GET',
    url: '/api/peers',
    summary:
      'Every peer: how it was found, its state (online, offline, unpaired, refused), round-trip time and version',
    access: 'read',
    responses: { 200: json('peers', PeerListResponse) },
    errors: { 403: "owner_only: a peer is not shown this Tower's other peers" },
  },
  // ---- mcp
  peerCreateSession: {
    method: 'POST',
    url: '/api/peers/:name/sessions',
    summary:
      'Spawn a runtime or a program on a peer, through this Tower with its credential for that peer; ' +
      'the reply names the session PEER/ID',
    access: 'admin',
    body: CreateSessionBody,
    responses: { 201: json('the new session, its id PEER/ID', SessionResponse) },
    errors: {
      403: "forbidden: a peer's own call is never passed on to another peer",
      404: 'unknown_peer',
      409: 'no_credential: the peer gave this Tower no token to use',
      502: 'the peer answered with something else than a session',
      503: 'unreachable: the peer did not answer',
    },
  },
  mcp: {
    method: 'POST',
    url: '/mcp',
    summary:
      'The MCP server (Streamable HTTP): JSON-RPC messages; the reply is JSON or a stream of server-sent ' +
      'events. Needs Authorization: Bearer with the admin token; a session is named by Mcp-Session-Id',
    access: 'admin',
    responses: { 200: { description: 'JSON-RPC replies, as JSON or server-sent events' } },
    errors: { 404: 'unknown MCP session: initialize again', 503: 'too many MCP sessions' },
  },
  mcpStream: {
    method: 'GET',
    url: '/mcp',
    summary: "The MCP session's stream of server-to-client messages (server-sent events)",
    access: 'admin',
    responses: { 200: { description: 'JSON-RPC messages', contentType: 'text/event-stream' } },
    errors: { 404: 'unknown MCP session' },
  },
  mcpEnd: {
    method: 'DELETE',
    url: '/mcp',
    summary: 'End an MCP session',
    access: 'admin',
    responses: { 200: { description: 'ended' } },
    errors: { 404: 'unknown MCP session' },
  },
} as const satisfies Record<string, RouteSpec>;
