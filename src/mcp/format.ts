/**
 * The compact shapes tool results use: only what a head agent acts on, the same keys every time, and
 * the ids it passes back unchanged (`PEER/ID` for a session on a peer).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TowerHttpError } from '../client/http-client.js';
import type { RuntimeInfo } from '../protocol/agents.js';
import { splitFleetId } from '../protocol/federation.js';
import type { SessionInfo } from '../protocol/socket.js';
import type { SubstrateInfo } from '../protocol/substrates.js';
import { SpawnRefused } from './guard.js';

export interface CompactSession {
  id: string;
  peer: string | null;
  name: string | null;
  runtime: string | null;
  status: string;
  state: string;
  reason: string;
  cwd: string;
  substrate: string;
  queued_prompts: number;
  last_offset: number;
}

export function compactSession(session: SessionInfo & { peer?: string | null }): CompactSession {
  return {
    id: session.id,
    peer: session.peer ?? splitFleetId(session.id).peer,
    name: session.name,
    runtime: session.runtime,
    status: session.status,
    state: session.status === 'running' ? session.agent.state : session.status,
    reason: session.agent.reason,
    cwd: session.cwd,
    substrate: session.substrate,
    queued_prompts: session.queued_prompts,
    last_offset: session.last_offset,
  };
}

export function sessionLine(session: CompactSession): string {
  const what = session.runtime ?? 'command';
  return `${session.id}  ${what}  ${session.state}  ${session.cwd}${session.name ? `  "${session.name}"` : ''}`;
}

export function compactRuntime(runtime: RuntimeInfo) {
  return {
    name: runtime.name,
    ready: runtime.ready,
    installed: runtime.installed,
    missing: runtime.missing,
    fix: runtime.fix,
  };
}

export function compactSubstrate(substrate: SubstrateInfo) {
  return {
    name: substrate.name,
    type: substrate.type,
    state: substrate.state,
    reason: substrate.reason,
    remote: substrate.remote ?? false,
  };
}

export function ok(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/** A tool error the agent can act on: a stable code and what was wrong, never a credential. */
export function failure(error: unknown): CallToolResult {
  const code =
    error instanceof TowerHttpError || error instanceof SpawnRefused
      ? error.code
      : error instanceof Error && error.name === 'ServeNotRunning'
        ? 'serve_not_running'
        : 'error';
  const message = error instanceof Error ? error.message : String(error);
  return {
    isError: true,
    content: [{ type: 'text', text: `${code}: ${message}` }],
    structuredContent: { error: code, message },
  };
}

// CSI (with private and intermediate bytes), OSC/DCS/APC strings ended by BEL or ST, two-byte escapes.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x1b./g;
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Terminal output as text a model reads: escape sequences gone, carriage returns as line ends. */
export function plainText(text: string): string {
  return text.replace(ESCAPES, '').replace(/\r\n/g, '\n').replace(/\r/g, '\n').replace(CONTROLS, '');
}

/** The length of the longest prefix that ends on a whole UTF-8 character. */
export function wholeUtf8(bytes: Buffer): number {
  let start = bytes.length - 1;
  // Step back over at most three continuation bytes to the lead byte of the last character.
  while (start > 0 && bytes.length - start < 4 && (bytes[start]! & 0xc0) === 0x80) start -= 1;
  if (start < 0) return 0;
  const lead = bytes[start]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - start >= need ? bytes.length : start;
}

/** A session as the agent named it: the id it gave (a peer's reply may name it without the peer). */
export function sameId(id: string): { id: string; peer: string | null } {
  return { id, peer: splitFleetId(id).peer };
}
