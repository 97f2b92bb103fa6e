/** The session host's sessions, as the agents layer's SessionSource: kept current from its session events. */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { CreateOptions, SessionSource } from '../agents/ports.js';
import type { TowerClient } from '../client/client.js';
import {
  INBAND_SIGNAL_PROTOCOL,
  LOCAL_SUBSTRATE,
  type SessionEventName,
  type SessionInfo,
  SUBSTRATES_PROTOCOL,
  TowerError,
} from '../protocol/index.js';
import { RemoteSession } from './remote-session.js';

interface HostSessionsEvents {
  session: [SessionEventName, SessionInfo];
}

export class HostSessions extends EventEmitter<HostSessionsEvents> implements SessionSource {
  private readonly sessions = new Map<string, RemoteSession>();

  private constructor(
    private readonly client: TowerClient,
    private readonly hostProtocol: number,
  ) {
    super();
    client.on('session_event', ({ event, session: info }) => {
      const known = this.sessions.get(info.id);
      if (event === 'removed') this.sessions.delete(info.id);
      else if (known) known.update(info);
      else this.sessions.set(info.id, new RemoteSession(info, client));
      this.emit('session', event, info);
    });
    client.on('session_notice', (notice) => this.sessions.get(notice.session_id)?.notice(notice));
    client.on('output', (event) => this.sessions.get(event.sessionId)?.output(event.offset, event.data));
  }

  /** Watches first, then lists: no session can fall between the two. */
  static async open(client: TowerClient, hostProtocol: number): Promise<HostSessions> {
    const source = new HostSessions(client, hostProtocol);
    await client.watch();
    for (const info of await client.list()) {
      if (!source.sessions.has(info.id)) source.sessions.set(info.id, new RemoteSession(info, client));
    }
    return source;
  }

  async create(options: CreateOptions): Promise<RemoteSession> {
    const substrate = options.substrate ?? LOCAL_SUBSTRATE;
    if (substrate !== LOCAL_SUBSTRATE && this.hostProtocol < SUBSTRATES_PROTOCOL) {
      // An older host would ignore the field and start the program on its own host, unconfined.
      throw new TowerError(
        'substrate_unavailable',
        `the session host speaks protocol ${this.hostProtocol}, from before substrates: it runs sessions ` +
          'locally only. Restarting it (tower host stop, then tower serve) ends its sessions',
      );
    }
    const reply = await this.client.request({
      type: 'host_create_session',
      id: options.id,
      name: options.name,
      shell: options.command,
      args: options.args,
      display_args: options.displayArgs ?? options.args ?? [],
      cwd: options.cwd,
      env: options.env,
      cols: options.cols,
      rows: options.rows,
      runtime_label: options.runtime ?? null,
      resumed_from: options.resumedFrom ?? null,
      substrate: options.substrate,
      access: options.access && {
        credential_env: options.access.credentialEnv,
        credential_files: options.access.credentialFiles,
        read_only: options.access.readOnly,
      },
      // A host from protocol 3 on takes the session's signals in-band; an older one needs the socket.
      hook_channel: this.hostProtocol < INBAND_SIGNAL_PROTOCOL ? options.hookChannel : undefined,
    });
    if (reply.type !== 'session_created') throw new TowerError('internal', `unexpected reply ${reply.type}`);
    // The host announced it to watchers (this connection too) before it answered.
    return this.get(reply.session_id);
  }

  get(id: string): RemoteSession {
    const session = this.sessions.get(id);
    if (!session) throw new TowerError('unknown_session', `unknown session: ${id}`);
    return session;
  }

  all(): RemoteSession[] {
    return [...this.sessions.values()];
  }

  newId(): string {
    let id: string;
    do id = randomBytes(4).toString('hex');
    while (this.sessions.has(id));
    return id;
  }

  async close(id: string): Promise<void> {
    await this.client.close(id);
  }
}
