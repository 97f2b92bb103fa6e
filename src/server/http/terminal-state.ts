/**
 * What the terminal WebSockets of one server share: who owns each session's size, and which
 * input each browser client has had applied.
 */

const INPUT_IDLE_MS = 60 * 60 * 1000;
const MAX_INPUT_CLIENTS = 10_000;

/**
 * The last input seq applied per (session, browser client id), so input resent after a reconnect
 * is applied once. Bounded: clients idle for an hour are forgotten, and at most 10k are kept.
 */
export class InputLedger {
  /** Oldest use first: a Map keeps insertion order and every use re-inserts. */
  private readonly entries = new Map<string, { seq: number; usedAt: number }>();

  lastApplied(sessionId: string, clientId: string): number {
    const key = `${sessionId}\0${clientId}`;
    const entry = this.entries.get(key);
    if (!entry) return 0;
    this.entries.delete(key);
    this.entries.set(key, { seq: entry.seq, usedAt: Date.now() });
    return entry.seq;
  }

  record(sessionId: string, clientId: string, seq: number): void {
    const key = `${sessionId}\0${clientId}`;
    const now = Date.now();
    this.entries.delete(key);
    this.entries.set(key, { seq, usedAt: now });
    for (const [oldKey, entry] of this.entries) {
      if (this.entries.size <= MAX_INPUT_CLIENTS && entry.usedAt > now - INPUT_IDLE_MS) break;
      this.entries.delete(oldKey);
    }
  }
}

/**
 * One explicit size owner per session, across every WebSocket watching it: the client that last
 * typed, or one that claims the size with a `resize`. Everyone else shows the owner's layout whole
 * (scaled down to fit its window when larger: see docs/ARCHITECTURE.md, "Terminal size").
 *
 * A `resize` from a client that is not the owner is taken as an explicit claim: it makes that
 * client the owner and resizes the session. Browsers therefore send `resize` only while they own
 * the size (a window resize) or when the user asks to take it over; a non-owner shows the `size`
 * it was told instead of asking for its own. Typing also makes a client the owner,
 * so the person at the keyboard always sees the program laid out for their window.
 */

export interface SizePeer {
  sendSize(cols: number, rows: number, owner: boolean): void;
}

interface SessionSize {
  readonly peers: Set<SizePeer>;
  owner: SizePeer | null;
  cols: number;
  rows: number;
  /** Sizes these peers asked the daemon for whose `resized` event has not come back yet. */
  requested: Array<{ cols: number; rows: number; at: number }>;
}

/** A requested size whose event has not come back within this long is forgotten (the request failed). */
const REQUEST_TTL_MS = 10_000;
const MAX_REQUESTED = 16;

export class SizeOwnership {
  private readonly sessions = new Map<string, SessionSize>();

  /** `cols`/`rows`: the session's size as the joining peer learned it, used if nobody else is watching. */
  join(sessionId: string, peer: SizePeer, cols: number, rows: number): void {
    let entry = this.sessions.get(sessionId);
    if (!entry) {
      entry = { peers: new Set(), owner: null, cols, rows, requested: [] };
      this.sessions.set(sessionId, entry);
    }
    entry.peers.add(peer);
    if (entry.owner) peer.sendSize(entry.cols, entry.rows, false);
  }

  leave(sessionId: string, peer: SizePeer): void {
    const entry = this.sessions.get(sessionId);
    if (!entry) return;
    entry.peers.delete(peer);
    if (entry.owner === peer) entry.owner = null;
    if (entry.peers.size === 0) this.sessions.delete(sessionId);
  }

  /** The peer typed: it becomes the owner at the current size. */
  claimByInput(sessionId: string, peer: SizePeer): void {
    const entry = this.sessions.get(sessionId);
    if (!entry || entry.owner === peer) return;
    entry.owner = peer;
    this.broadcast(entry);
  }

  /** The peer asked for a size: it becomes the owner, and the session takes its size (the caller
   *  asks the daemon for it; its `resized` event is then recognised as this peer's, see `resized`). */
  claimBySize(sessionId: string, peer: SizePeer, cols: number, rows: number): void {
    const entry = this.sessions.get(sessionId);
    if (!entry) return;
    const now = Date.now();
    entry.requested = entry.requested.filter((size) => size.at > now - REQUEST_TTL_MS);
    entry.requested.push({ cols, rows, at: now });
    if (entry.requested.length > MAX_REQUESTED) entry.requested.shift();
    if (entry.owner === peer && entry.cols === cols && entry.rows === rows) return;
    entry.owner = peer;
    entry.cols = cols;
    entry.rows = rows;
    this.broadcast(entry);
  }

  /**
   * The daemon says the session was resized. A size one of these peers asked for changes nothing;
   * any other came from elsewhere (the CLI, REST, another server): nobody here owns the size any
   * more, and every peer is told to fit to it.
   */
  resized(sessionId: string, cols: number, rows: number): void {
    const entry = this.sessions.get(sessionId);
    if (!entry) return;
    const mine = entry.requested.findIndex((size) => size.cols === cols && size.rows === rows);
    if (mine >= 0) {
      entry.requested.splice(0, mine + 1);
      return;
    }
    if (entry.cols === cols && entry.rows === rows && entry.owner === null) return;
    entry.owner = null;
    entry.cols = cols;
    entry.rows = rows;
    this.broadcast(entry);
  }

  private broadcast(entry: SessionSize): void {
    for (const peer of entry.peers) peer.sendSize(entry.cols, entry.rows, peer === entry.owner);
  }
}
