/**
 * The session host: state dir, token, session manager and the Unix socket, started and stopped as
 * one. It owns every PTY and journal and outlives its control plane (`tower serve`), which attaches
 * to it as a client.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type ManagerOptions, SessionManager } from '../sessions/manager.js';
import { AuthThrottle } from '../state/auth-throttle.js';
import { hostPidPath, socketPath, tokenPath } from '../state/paths.js';
import { ensureToken, readToken } from '../state/token.js';
import { TOWER_VERSION } from '../state/version.js';
import { ControlPlaneSlot } from './control-plane-slot.js';
import { HostRequests } from './host-requests.js';
import { SocketConnection } from './socket-connection.js';

export interface HostOptions extends Omit<ManagerOptions, 'stateDir'> {
  stateDir: string;
  /** Asked to stop over the socket (stop_host). */
  onStopRequest?: () => void;
}

export interface Host {
  readonly socketPath: string;
  readonly manager: SessionManager;
  close(): Promise<void>;
}

export async function startHost(options: HostOptions): Promise<Host> {
  const { stateDir } = options;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  const path = socketPath(stateDir);
  await clearStaleSocket(path);
  const tokenFile = tokenPath(stateDir);
  let token = ensureToken(tokenFile);
  // `tower token --rotate` rewrites the file; new connections must use the new token at once.
  const currentToken = () => {
    token = readToken(tokenFile) ?? token;
    return token;
  };
  const manager = new SessionManager(options);
  const slot = new ControlPlaneSlot([...manager.lostAtStart]);
  for (const session of manager.all()) slot.watchSession(session);
  manager.on('session', (event, info) => {
    if (event === 'created') slot.watchSession(manager.get(info.id));
  });
  const requests = new HostRequests(
    manager,
    slot,
    { build: TOWER_VERSION, startedAt: new Date().toISOString() },
    () => options.onStopRequest?.(),
  );
  const throttle = new AuthThrottle();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new SocketConnection(socket, manager, slot, requests, currentToken, throttle);
  });
  await listen(server, path);
  chmodSync(path, 0o600);
  const pidFile = hostPidPath(stateDir);
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  let closing: Promise<void> | null = null;
  return {
    socketPath: path,
    manager,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await stopped;
        slot.close();
        await manager.shutdown();
        rmSync(pidFile, { force: true });
      })();
      return closing;
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Refuse to start over a live daemon; remove the socket a dead one left behind. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`a Tower session host is already listening on ${path}`);
  unlinkSync(path);
}
