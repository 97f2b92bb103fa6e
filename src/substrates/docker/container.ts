/**
 * One substrate's container on a Docker Engine: made from the image with the workspace bind-mounted,
 * labelled as Tower's (a container of the same name that is not Tower's is never started, stopped or
 * removed), kept alive by a shell loop under the engine's init so that `stop` ends it at once.
 */
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { normalize } from 'node:path';
import Docker from 'dockerode';
import { TowerError } from '../../protocol/index.js';
import { expandHome } from '../command.js';
import type { SubstrateStatus } from '../types.js';
import { containerName, type DockerConfig } from './config.js';

export const SUBSTRATE_LABEL = 'tower.substrate';
const DEFAULT_HOST = 'unix:///var/run/docker.sock';
const KEEP_ALIVE = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];

export type ContainerFound =
  | { status: 'absent' }
  | { status: string; running: boolean; ours: boolean; id: string };

export class DockerContainer {
  readonly docker: Docker;
  readonly name: string;
  /** What is shown of the engine in messages. */
  readonly host: string;
  /** The engine is on this machine (a Unix socket), so the workspace can be checked here. */
  readonly local: boolean;

  /** `stateDir`: this Tower's own, never to be inside the workspace (its token and socket). */
  constructor(
    readonly config: DockerConfig,
    private readonly stateDir?: string,
  ) {
    const engine = config.docker_host ?? process.env.DOCKER_HOST ?? DEFAULT_HOST;
    // Credentials written in the URL are shown to no one (details, errors, logs).
    this.host = engine.replace(/^([a-z]+:\/\/)[^/@]*@/i, '$1');
    this.local = engine.startsWith('unix://');
    this.docker = new Docker(engineOptions(engine));
    this.name = containerName(config);
  }

  async find(signal?: AbortSignal): Promise<ContainerFound> {
    try {
      const info = await this.docker.getContainer(this.name).inspect({ abortSignal: signal });
      return {
        status: info.State.Status,
        running: info.State.Running,
        ours: info.Config.Labels?.[SUBSTRATE_LABEL] === this.config.name,
        id: info.Id,
      };
    } catch (error) {
      if (statusCode(error) === 404) return { status: 'absent' };
      throw this.unreachable(error);
    }
  }

  async status(): Promise<SubstrateStatus> {
    let found: ContainerFound;
    try {
      found = await this.find(AbortSignal.timeout(5000));
    } catch (error) {
      return { state: 'error', reason: (error as Error).message };
    }
    if (!('ours' in found)) return { state: 'unknown', reason: 'not provisioned' };
    if (!found.ours) return { state: 'error', reason: this.notOurs() };
    switch (found.status) {
      case 'running':
        return { state: 'ready', reason: null };
      case 'created':
      case 'exited':
        return { state: 'sleeping', reason: `container ${found.status}` };
      case 'paused':
        return { state: 'sleeping', reason: 'container paused' };
      case 'restarting':
        return { state: 'starting', reason: 'container restarting' };
      case 'removing':
        return { state: 'destroying', reason: 'container being removed' };
      default:
        return { state: 'error', reason: `container ${found.status}` };
    }
  }

  /** Creates the container when there is none; idempotent. */
  async provision(): Promise<void> {
    const found = await this.owned();
    if (found) return;
    const { config } = this;
    const workspace = config.workspace ? this.workspacePath(config.workspace) : null;
    try {
      await this.docker.createContainer({
        name: this.name,
        Image: config.image,
        Cmd: KEEP_ALIVE,
        WorkingDir: config.workdir,
        Labels: { [SUBSTRATE_LABEL]: config.name },
        HostConfig: {
          Init: true,
          Privileged: false,
          NetworkMode: config.network,
          RestartPolicy: { Name: 'unless-stopped' },
          Mounts: workspace
            ? [{ Type: 'bind', Source: workspace, Target: config.workdir, ReadOnly: false }]
            : [],
        },
      });
    } catch (error) {
      const code = statusCode(error);
      if (code === 409) return; // made meanwhile by another request
      if (code === 404)
        throw new TowerError(
          'substrate_unavailable',
          `image ${config.image} is not on the Docker Engine at ${this.host}: pull or import it there`,
        );
      throw this.failed('create', error);
    }
  }

  async start(): Promise<void> {
    if (!(await this.owned())) throw this.notProvisioned();
    await this.docker
      .getContainer(this.name)
      .start()
      .catch((error) => {
        if (statusCode(error) !== 304) throw this.failed('start', error);
      });
  }

  async stop(): Promise<void> {
    if (!(await this.owned())) throw this.notProvisioned();
    await this.docker
      .getContainer(this.name)
      .stop({ t: 5 })
      .catch((error) => {
        if (statusCode(error) !== 304) throw this.failed('stop', error);
      });
  }

  /** Removes it, running or not; nothing to do when it is gone already. */
  async remove(): Promise<void> {
    if (!(await this.owned())) return;
    await this.docker
      .getContainer(this.name)
      .remove({ force: true })
      .catch((error) => {
        if (statusCode(error) !== 404) throw this.failed('remove', error);
      });
  }

  /**
   * The workspace as the engine will mount it: absolute, without `..`, not `/`; on a local engine
   * it must be an existing directory, and is the real path (a link cannot lead it elsewhere later).
   */
  workspacePath(path: string): string {
    const expanded = expandHome(path, homedir());
    const refuse = (why: string) =>
      new TowerError('bad_cwd', `workspace ${JSON.stringify(path)} of substrate ${this.config.name}: ${why}`);
    if (!expanded.startsWith('/')) throw refuse('must be an absolute path (or ~/…)');
    if (expanded.includes('\0') || expanded.split('/').includes('..')) throw refuse('must not contain ..');
    let real = normalize(expanded).replace(/(.)\/+$/, '$1');
    if (this.local) {
      try {
        real = realpathSync(real);
        if (!statSync(real).isDirectory()) throw refuse('is not a directory');
      } catch (error) {
        if (error instanceof TowerError) throw error;
        throw refuse('does not exist');
      }
    }
    if (real === '/') throw refuse('must not be / (the whole machine)');
    // Tower's token and socket there would let the container drive this machine's Tower.
    const state = this.local && this.stateDir ? realOrAsIs(this.stateDir) : null;
    if (state && (state === real || state.startsWith(`${real}/`) || real.startsWith(`${state}/`)))
      throw refuse(`must not hold Tower's state dir ${state} (its token would reach the container)`);
    return real;
  }

  /** True when it exists and is ours; throws when the name is taken by a container Tower did not make. */
  private async owned(): Promise<boolean> {
    const found = await this.find();
    if (!('ours' in found)) return false;
    if (!found.ours) throw new TowerError('substrate_unavailable', this.notOurs());
    return true;
  }

  private notOurs(): string {
    return `container ${this.name} exists but Tower did not make it (no ${SUBSTRATE_LABEL}=${this.config.name} label): rename or remove it, or set "container"`;
  }

  private notProvisioned(): TowerError {
    return new TowerError(
      'substrate_unavailable',
      `substrate ${this.config.name} is not provisioned: tower substrates provision ${this.config.name}`,
    );
  }

  unreachable(error: unknown): Error {
    if (statusCode(error) !== undefined) return error as Error;
    return new TowerError(
      'substrate_unavailable',
      `cannot reach the Docker Engine at ${this.host}: ${(error as Error).message}`,
    );
  }

  private failed(action: string, error: unknown): Error {
    if (statusCode(error) === undefined) return this.unreachable(error);
    const said = (error as { json?: { message?: string } }).json?.message ?? (error as Error).message;
    return new TowerError('substrate_unavailable', `cannot ${action} container ${this.name}: ${said}`);
  }
}

export function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function engineOptions(host: string): Docker.DockerOptions {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return {
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 2376 : 2375),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  };
}

function realOrAsIs(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return normalize(path).replace(/(.)\/+$/, '$1');
  }
}
