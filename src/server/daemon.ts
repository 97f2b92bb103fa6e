/** The daemon: state dir, token, session manager and the Unix socket, started and stopped as one. */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AgentSupervisor, type LostSession } from '../agents/supervisor.js';
import { type ManagerOptions, SessionManager } from '../sessions/manager.js';
import { AuthThrottle } from '../state/auth-throttle.js';
import { socketPath, tokenPath } from '../state/paths.js';
import { ensureToken, readToken } from '../state/token.js';
import { daemonEvents } from './fan-out.js';
import { SocketConnection } from './socket-connection.js';

export interface DaemonOptions extends Omit<ManagerOptions, 'stateDir'> {
  stateDir: string;
  /** Relaunch lost agent sessions with their resume flag at start. */
  resumeLost?: boolean;
  dispatchLimit?: number;
  /** Wrong tokens on the socket are throttled here (shared with the HTTP layer by `tower serve`). */
  authThrottle?: AuthThrottle;
}

/** The CLI that agents' hooks run (`tower hook`), by absolute path so a hook needs no PATH. */
const TOWER_BIN = fileURLToPath(new URL('../../bin/tower.js', import.meta.url));

export interface Daemon {
  readonly socketPath: string;
  readonly manager: SessionManager;
  readonly supervisor: AgentSupervisor;
  /** Sessions the last run left running (lost now), and those relaunched with resumeLost. */
  readonly lost: LostSession[];
  close(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
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
  const supervisor = new AgentSupervisor(manager, {
    stateDir,
    hookCommand: [process.execPath, TOWER_BIN, '--state-dir', stateDir, 'hook'],
    dispatchLimit: options.dispatchLimit,
  });
  const lost = supervisor.reportLost(options.resumeLost ? supervisor.resumeLost() : []);
  const throttle = options.authThrottle ?? new AuthThrottle();
  const events = daemonEvents(manager, supervisor);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new SocketConnection(socket, manager, supervisor, currentToken, throttle, events);
  });
  await listen(server, path);
  chmodSync(path, 0o600);
  let closing: Promise<void> | null = null;
  return {
    socketPath: path,
    manager,
    supervisor,
    lost,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await stopped;
        await manager.shutdown();
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
  if (alive) throw new Error(`a Tower daemon is already listening on ${path}`);
  unlinkSync(path);
}
