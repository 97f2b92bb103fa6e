/**
 * The fleet in the CLI: `tower peers`, `tower ls --all`, and a session on a peer (`PEER/ID`) reached
 * through the local `tower serve`, which alone holds the peers' credentials.
 */
import type { Command } from 'commander';
import type { TowerHttpClient } from '../client/http-client.js';
import { localWebClient } from '../client/local-web.js';
import { resolveSessionRef } from '../client/session-ref.js';
import { API } from '../protocol/api.js';
import {
  type FleetSession,
  fleetId,
  type PeerInfo,
  type PeerStatus,
  splitFleetId,
} from '../protocol/federation.js';
import type { PromptInfo } from '../protocol/index.js';
import { escapeControls, escapeLines, terminalJson } from './escape.js';
import { formatColumns } from './table.js';

/** A prompt's delivery is checked this often while the CLI waits for it on a peer. */
const PROMPT_POLL_MS = 250;

export function isRemoteRef(ref: string): boolean {
  return splitFleetId(ref).peer !== null;
}

/** The local serve's web API, and the session's fleet id (its part after `PEER/` resolved on that peer). */
export async function resolveRemote(
  stateDir: string,
  ref: string,
  maxReplyBytes?: number,
): Promise<{ web: TowerHttpClient; id: string; session: FleetSession }> {
  const web = localWebClient(stateDir, { maxReplyBytes });
  const { peer, id } = splitFleetId(ref);
  const { sessions } = await web.call(API.listSessions, { query: { peer: peer! } });
  const own = sessions.map((session) => ({ ...session, id: splitFleetId(session.id).id }));
  const session = resolveSessionRef(own, id);
  return { web, id: fleetId(peer, session.id), session };
}

export async function listAll(stateDir: string): Promise<{ sessions: FleetSession[]; peers: PeerStatus[] }> {
  const reply = await localWebClient(stateDir).call(API.listSessions, { query: { scope: 'all' } });
  return { sessions: reply.sessions, peers: reply.peers ?? [] };
}

/** One line per peer that did not answer: its sessions shown are its last known, or none. */
export function peerNotes(peers: PeerStatus[]): string {
  return peers
    .filter((peer) => peer.state !== 'online')
    .map((peer) => {
      const shown = peer.stale ? 'its sessions as last seen' : 'no sessions shown';
      return `${escapeControls(`! peer ${peer.name}: ${peer.state} (${shown})${peer.error ? `: ${peer.error}` : ''}`)}\n`;
    })
    .join('');
}

export function addFleetCommands(program: Command, stateDir: () => string): void {
  program
    .command('peers')
    .description('list the peer Towers: URL, how each was found, state, round-trip time, version')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { peers } = await localWebClient(stateDir()).call(API.peers);
      process.stdout.write(options.json ? `${terminalJson(peers, 2)}\n` : formatPeers(peers));
    });
}

function formatPeers(peers: PeerInfo[]): string {
  if (peers.length === 0) return 'no peers (tower peer add NAME URL --token T, or tower peer pair)\n';
  return formatColumns(
    ['NAME', 'URL', 'FOUND', 'STATE', 'RTT', 'VERSION', 'DETAIL'],
    peers.map((peer) => [
      peer.name,
      peer.url,
      peer.found_by.join(','),
      peer.state + (peer.scope === 'view' ? ' (view only)' : ''),
      peer.rtt_ms === null ? '-' : `${peer.rtt_ms} ms`,
      peer.version ?? '-',
      peer.error ?? '',
    ]),
  );
}

export async function remoteSend(
  stateDir: string,
  ref: string,
  input: { text?: string; enter?: boolean; prompt?: string; wait?: boolean },
): Promise<void> {
  const { web, id } = await resolveRemote(stateDir, ref);
  if (input.prompt === undefined) {
    await web.call(API.input, { id, body: { data: input.enter ? `${input.text}\r` : input.text! } });
    return;
  }
  const { prompt } = await web.call(API.prompt, { id, body: { text: input.prompt } });
  if (prompt.state === 'queued' && !input.wait) {
    const why = prompt.waiting ?? 'the agent is not idle; it goes in when it is';
    process.stdout.write(`queued ${escapeControls(prompt.id)}: ${escapeControls(why)}\n`);
    return;
  }
  let current: PromptInfo | undefined = prompt;
  while (current && (current.state === 'queued' || current.state === 'delivering')) {
    await new Promise((resolve) => setTimeout(resolve, PROMPT_POLL_MS));
    const { prompts } = await web.call(API.sessionPrompts, { id });
    current = prompts.find((candidate) => candidate.id === prompt.id);
  }
  if (current?.state !== 'delivered') {
    throw new Error(`prompt ${prompt.id} ${current?.state ?? 'gone'}: ${current?.error ?? ''}`);
  }
}

export async function remoteScreen(stateDir: string, ref: string): Promise<void> {
  const { web, id } = await resolveRemote(stateDir, ref);
  const screen = await web.call(API.screen, { id });
  process.stdout.write(`${escapeLines((screen.text ?? '').replace(/\n+$/, ''))}\n`);
}

export async function remoteKill(stateDir: string, ref: string): Promise<void> {
  const { web, id } = await resolveRemote(stateDir, ref);
  await web.call(API.deleteSession, { id });
}

export async function remotePrompts(stateDir: string, ref: string): Promise<PromptInfo[]> {
  const { web, id } = await resolveRemote(stateDir, ref);
  return (await web.call(API.sessionPrompts, { id })).prompts;
}

/** Like `tower rm` here: a running session is refused, not ended on the way. */
export async function remoteRemove(stateDir: string, ref: string): Promise<void> {
  const { web, id, session } = await resolveRemote(stateDir, ref);
  if (session.status === 'running') {
    throw new Error(`session ${id} is running; end it first with: tower kill ${id}`);
  }
  await web.call(API.deleteSession, { id, query: { remove: '1' } });
}

export async function remoteRestart(stateDir: string, ref: string, resume: boolean): Promise<string> {
  const { web, id } = await resolveRemote(stateDir, ref);
  return (await web.call(API.restart, { id, body: { resume } })).session_id;
}
