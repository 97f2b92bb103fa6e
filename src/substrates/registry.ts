/**
 * The substrates a session can run on: `local`, always, plus those of <state-dir>/substrates.json,
 * re-read whenever the file changes. A broken file never hides `local`; its error names the field.
 */
import { join } from 'node:path';
import { LOCAL_SUBSTRATE, type SubstrateInfo, TowerError } from '../protocol/index.js';
import { ConfigFile } from '../state/config-file.js';
import { BootstrapRuns } from './bootstrap/runs.js';
import { parseSubstratesFile, SUBSTRATES_FILE, type SubstrateConfig } from './config.js';
import { echoSubstrate } from './echo/index.js';
import { localSubstrate } from './local/index.js';
import { loopbackSubstrate } from './loopback/index.js';
import { sandboxSubstrate } from './sandbox/index.js';
import type { TrustResult } from './ssh/trust.js';
import type { Substrate, SubstrateContext } from './types.js';

/**
 * The remote types load their libraries (ssh2, dockerode) only where installed: Tower's session host
 * on a box is bootstrapped with what a host needs, and never declares substrates of its own.
 */
const [ssh, docker] = await Promise.allSettled([import('./ssh/index.js'), import('./docker/index.js')]);

function loaded<T>(result: PromiseSettledResult<T>, type: string): T {
  if (result.status === 'fulfilled') return result.value;
  throw new TowerError(
    'substrate_unavailable',
    `${type} substrates cannot load here: ${(result.reason as Error).message}`,
  );
}

export class SubstrateRegistry {
  readonly local = localSubstrate();
  private declared: Substrate[] = [];
  /** By their entry in substrates.json (as JSON). */
  private made = new Map<string, Substrate>();
  private readonly config: ConfigFile;
  /** What is wrong in substrates.json, or null. */
  configError: string | null = null;
  /** The bootstraps of the substrates on a box: one at a time each, persisted after each phase. */
  readonly bootstraps: BootstrapRuns;

  constructor(private readonly context: SubstrateContext) {
    this.config = new ConfigFile(join(context.stateDir, SUBSTRATES_FILE));
    this.bootstraps = new BootstrapRuns(context.stateDir);
  }

  all(): Substrate[] {
    this.refresh();
    return [this.local, ...this.declared];
  }

  get(name: string = LOCAL_SUBSTRATE): Substrate {
    const substrate = this.all().find((candidate) => candidate.name === name);
    if (substrate) return substrate;
    const hint = this.configError ? ` (${this.configError})` : '';
    throw new TowerError(
      'unknown_substrate',
      `unknown substrate: ${name}; known: ${this.all()
        .map((known) => known.name)
        .join(', ')}${hint}`,
    );
  }

  async list(): Promise<SubstrateInfo[]> {
    return Promise.all(
      this.all().map(async (substrate) => ({
        name: substrate.name,
        type: substrate.type,
        ...(await substrate.state()),
        capabilities: substrate.capabilities,
        remote: substrate.remote === true,
        detail: substrate.detail,
        bootstrap: substrate.box ? this.bootstraps.summary(substrate.name) : null,
      })),
    );
  }

  private refresh(): void {
    const read = this.config.changed();
    if (read === null) return;
    this.configError = null;
    let configs: SubstrateConfig[] = [];
    if ('error' in read) this.configError = `${SUBSTRATES_FILE}: cannot read it: ${read.error}`;
    else if (!('absent' in read)) {
      const { substrates, error } = parseSubstratesFile(read.text);
      this.configError = error;
      configs = substrates;
    }
    // A substrate whose entry did not change is kept as it is, with its link to its box.
    const before = this.made;
    this.made = new Map();
    for (const config of configs) {
      const key = JSON.stringify(config);
      try {
        this.made.set(key, before.get(key) ?? this.viaHost(this.make(config)));
      } catch (problem) {
        const said = `${config.name}: ${(problem as Error).message}`;
        this.configError = this.configError ? `${this.configError}; ${said}` : said;
      }
    }
    for (const [key, substrate] of before) if (!this.made.has(key)) substrate.close?.();
    this.declared = [...this.made.values()];
  }

  /** Read the host keys an ssh substrate presents; add those whose fingerprints are confirmed. */
  async trust(name: string, fingerprints: readonly string[]): Promise<TrustResult> {
    const substrate = this.get(name);
    const entry = [...this.made].find(([, made]) => made === substrate)?.[0];
    const config = entry ? (JSON.parse(entry) as SubstrateConfig) : null;
    if (config?.type !== 'ssh') {
      throw new TowerError(
        'not_supported',
        `substrate ${name} is of type ${substrate.type}: it has no host key`,
      );
    }
    const { trustHostKey } = await import('./ssh/trust.js');
    const result = await trustHostKey(this.context.stateDir, config, fingerprints).catch((error: Error) => {
      throw new TowerError('substrate_unavailable', `substrate ${name}: ${error.message}`);
    });
    // Refused until now: try again at once rather than at the next slow retry.
    if (result.keys.some((key) => key.status === 'trusted')) void substrate.box?.whenUp().catch(() => {});
    return result;
  }

  /** Lets go of every declared substrate's link (the daemon is stopping). */
  close(): void {
    for (const substrate of this.made.values()) substrate.close?.();
    this.made.clear();
    this.declared = [];
  }

  /** In the control plane a remote substrate's probe goes through the host, which keeps its link. */
  private viaHost(substrate: Substrate): Substrate {
    const probeVia = this.context.probeVia;
    if (!probeVia || !substrate.remote) return substrate;
    return { ...substrate, probe: (query) => probeVia(substrate.name, query) };
  }

  private remoteContext() {
    return { ...this.context, bootstraps: this.bootstraps, log: this.context.log };
  }

  private make(config: SubstrateConfig): Substrate {
    switch (config.type) {
      case 'sandbox':
        return sandboxSubstrate(config, this.context);
      case 'echo':
        return echoSubstrate(config);
      case 'docker':
        return loaded(docker, 'docker').dockerSubstrate(config, this.remoteContext());
      case 'ssh':
        return loaded(ssh, 'ssh').sshSubstrate(config, this.remoteContext());
      case 'loopback':
        return loopbackSubstrate(config);
    }
  }
}
