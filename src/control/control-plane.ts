/**
 * The control plane: attaches to the session host (starting it when none runs), adopts every session
 * it holds, and runs the agents layer over them, answering the requests the host relays to it. It can
 * be stopped, killed or replaced by a new build at any time: the sessions stay with the host.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { LostSession } from '../agents/lost-sessions.js';
import { AgentSupervisor } from '../agents/supervisor.js';
import { ClientError, type TowerClient } from '../client/client.js';
import {
  type DaemonMessageOf,
  HOST_PROTOCOL,
  MIN_HOST_PROTOCOL,
  type SessionInfo,
} from '../protocol/index.js';
import { FanOut } from '../state/fan-out.js';
import { agentsDbPath, socketPath } from '../state/paths.js';
import { TOWER_VERSION } from '../state/version.js';
import { openAgentsDatabase } from './agents-db.js';
import { connectHost, TOWER_BIN } from './host-process.js';
import { HostSessions } from './host-sessions.js';
import { Relay } from './relay.js';

const HOST_STOP_WAIT_MS = 5000;

export interface ControlPlaneOptions {
  stateDir: string;
  /** `tower host` options, used when the host has to be started. */
  hostArgs: string[];
  resumeLost?: boolean;
  dispatchLimit?: number;
  warn: (message: string) => void;
}

export interface ControlPlane {
  readonly socketPath: string;
  readonly host: { pid: number; build: string; started: boolean; logFrom: number };
  /** Running sessions taken over from the host. */
  readonly adopted: number;
  /** Sessions the host found lost when it started (each told once), and those relaunched. */
  readonly lost: LostSession[];
  /** The link to the host dropped (the host stopped or died); not called after close(). */
  onHostLost(listener: () => void): void;
  /** Detach; with stopHost, also end every session and stop the host. */
  close(options?: { stopHost?: boolean }): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { stateDir } = options;
  const connection = await connectHost(stateDir, options.hostArgs);
  const link = connection.client;
  try {
    const attached = await attach(link);
    const sessions = await HostSessions.open(link, attached.protocol);
    const database = openAgentsDatabase(agentsDbPath(stateDir), options.warn);
    const supervisor = new AgentSupervisor(sessions, database, {
      stateDir,
      hookCommand: [process.execPath, TOWER_BIN, '--state-dir', stateDir, 'hook'],
      dispatchLimit: options.dispatchLimit,
      probeVia: async (substrate, query) => {
        const {
          type: _,
          req_id: __,
          ...found
        } = (await link.request({
          type: 'probe_substrate',
          name: substrate,
          programs: query.programs,
          variables: query.variables,
          files: query.files,
          env: query.env,
        })) as DaemonMessageOf<'substrate_probe'>;
        return found;
      },
    });
    const adopted = sessions.all().filter((session) => !session.ended).length;
    const relay = new Relay(link, supervisor, {
      attention: new FanOut((listener) => supervisor.on('attention', listener)),
      prompt: new FanOut((listener) => supervisor.on('prompt', listener)),
    });
    link.on('session_notice', (notice) => {
      if (notice.kind === 'typed' && notice.data !== undefined) {
        supervisor.inputTyped(notice.session_id, Buffer.from(notice.data, 'base64'));
      } else if (notice.kind === 'closing') {
        supervisor.closedByRequest(notice.session_id);
      } else if (notice.kind === 'signal' && notice.signal) {
        const { source, event, payload } = notice.signal;
        try {
          supervisor.signal(notice.session_id, source, event, payload ?? {});
        } catch {
          // Not an agent session (any program may have the key), or a source no runtime answers to.
        }
      }
    });
    const relaunched = options.resumeLost ? await supervisor.resumeLost() : [];
    const lost = supervisor.reportLost(attached.lost, relaunched);
    let closed = false;
    const lostListeners: Array<() => void> = [];
    link.once('disconnect', () => {
      relay.close();
      supervisor.stop();
      database.close();
      if (!closed) for (const listener of lostListeners) listener();
    });
    return {
      socketPath: socketPath(stateDir),
      host: {
        pid: attached.pid,
        build: attached.build,
        started: connection.started,
        logFrom: connection.logFrom,
      },
      adopted,
      lost,
      onHostLost: (listener) => lostListeners.push(listener),
      close: async ({ stopHost = false } = {}) => {
        closed = true;
        if (stopHost) {
          const gone = new Promise((resolve) => link.once('disconnect', () => resolve(undefined)));
          await link.request({ type: 'stop_host' }).catch(() => {});
          await Promise.race([gone, sleep(HOST_STOP_WAIT_MS)]);
        }
        link.end();
      },
    };
  } catch (error) {
    link.end();
    throw error;
  }
}

/** Become the host's control plane, after checking that each speaks the other's protocol. */
async function attach(link: TowerClient): Promise<DaemonMessageOf<'control_plane_attached'>> {
  let reply: Awaited<ReturnType<TowerClient['request']>>;
  try {
    reply = await link.request({
      type: 'attach_control_plane',
      protocol: HOST_PROTOCOL,
      build: TOWER_VERSION,
    });
  } catch (error) {
    if (error instanceof ClientError && error.code === 'bad_message') {
      throw new Error(
        'the process serving this state dir is a Tower daemon from before the session host; stop it ' +
          `(its sessions end) and start tower serve again. It said: ${error.message}`,
      );
    }
    throw error;
  }
  if (reply.type !== 'control_plane_attached')
    throw new Error(`unexpected answer from the host: ${reply.type}`);
  if (reply.protocol < MIN_HOST_PROTOCOL) {
    const running = (await link.list()).filter((session) => session.status === 'running');
    throw new Error(
      `the session host (pid ${reply.pid}, Tower ${reply.build}) speaks protocol ${reply.protocol}; this ` +
        `Tower (${TOWER_VERSION}) needs ${MIN_HOST_PROTOCOL} or later. Restarting it (tower host stop, then ` +
        `tower serve) would end ${describe(running)}`,
    );
  }
  return reply;
}

function describe(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return 'no session';
  const names = sessions.map((session) => (session.name ? `${session.id} (${session.name})` : session.id));
  return `${sessions.length} running ${sessions.length === 1 ? 'session' : 'sessions'}: ${names.join(', ')}`;
}
