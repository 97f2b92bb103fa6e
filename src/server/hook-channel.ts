/**
 * A session's own hook socket, for substrates that hide Tower's state dir and with it the host's
 * socket and token (a sandbox). The session's hooks (`tower hook`) find it in $TOWER_HOOK_SOCKET and send
 * their agent_signal there, without a token; the host relays it to its control plane as it would from
 * tower.sock. It takes status signals of that one session and nothing else, so what runs in the sandbox
 * can at most misreport its own status, as it could on its screen. Bounded: a few connections at a time,
 * one line of 64 KiB each, closed when idle. It lives with the session in the host, so it outlasts a
 * control plane restart.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { AgentSignalRequest, type DaemonMessage, TowerError } from '../protocol/index.js';
import { LineSplitter } from '../protocol/ndjson.js';
import type { ControlPlaneSlot, RelayEndpoint } from './control-plane-slot.js';

const MAX_LINE_BYTES = 64 * 1024;
const MAX_CONNECTIONS = 8;
const IDLE_MS = 5000;

/** The hook directories this host has cleared of what an earlier run left. */
const cleared = new Set<string>();

export class HookChannel {
  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  static async open(stateDir: string, sessionId: string, slot: ControlPlaneSlot): Promise<HookChannel> {
    const dir = join(stateDir, 'hooks');
    // Sockets an earlier host left behind (killed, it closed none) belong to no session now.
    if (!cleared.has(dir)) rmSync(dir, { recursive: true, force: true });
    cleared.add(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A socket path holds at most 107 bytes: named by a hash, not by the (up to 64-character) id.
    const path = join(dir, `${createHash('sha256').update(sessionId).digest('hex').slice(0, 16)}.sock`);
    rmSync(path, { force: true });
    const server = createServer((socket) => serve(socket, sessionId, slot));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    return new HookChannel(path, server);
  }

  close(): void {
    this.server.close();
    rmSync(this.path, { force: true });
  }
}

/** One hook call: one agent_signal line in, the control plane's answer (or an error) out, then closed. */
function serve(socket: Socket, sessionId: string, slot: ControlPlaneSlot): void {
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  const endpoint: RelayEndpoint = {
    send: (message: DaemonMessage) => endpoint.sendRaw(JSON.stringify(message)),
    sendRaw: (line) => {
      socket.end(`${line}\n`);
      return false;
    },
    drop: () => socket.destroy(),
  };
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.once('close', () => slot.closed(endpoint));
  socket.on('data', (chunk: Buffer) => {
    const [first] = splitter.push(chunk);
    if (first === undefined) return;
    socket.removeAllListeners('data');
    if ('tooLong' in first) {
      endpoint.send({
        type: 'error',
        code: 'too_large',
        message: `a hook message is at most ${MAX_LINE_BYTES} bytes`,
      });
      return;
    }
    const signal = parseSignal(first.line, sessionId);
    if (typeof signal === 'string') {
      endpoint.send({ type: 'error', code: 'bad_message', message: signal });
      return;
    }
    try {
      slot.relay(endpoint, JSON.stringify(signal), signal.req_id, signal.type);
    } catch (error) {
      const code = error instanceof TowerError ? error.code : 'internal';
      endpoint.send({ type: 'error', code, message: (error as Error).message, req_id: signal.req_id });
    }
  });
}

function parseSignal(line: string, sessionId: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return 'malformed JSON: one JSON object per line';
  }
  const parsed = AgentSignalRequest.safeParse(raw);
  return parsed.success && parsed.data.session_id === sessionId
    ? parsed.data
    : `only agent_signal for session ${sessionId}`;
}
