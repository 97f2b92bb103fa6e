/** The substrates a session can run on: `local`, always. */
import { LOCAL_SUBSTRATE, type SubstrateInfo, TowerError } from '../protocol/index.js';
import { localSubstrate } from './local/index.js';
import type { Substrate } from './types.js';

export class SubstrateRegistry {
  readonly local = localSubstrate();
  /** What is wrong in the substrates' configuration, or null. */
  configError: string | null = null;

  all(): Substrate[] {
    return [this.local];
  }

  get(name: string = LOCAL_SUBSTRATE): Substrate {
    const substrate = this.all().find((candidate) => candidate.name === name);
    if (substrate) return substrate;
    throw new TowerError(
      'unknown_substrate',
      `unknown substrate: ${name}; known: ${this.all()
        .map((known) => known.name)
        .join(', ')}`,
    );
  }

  async list(): Promise<SubstrateInfo[]> {
    return Promise.all(
      this.all().map(async (substrate) => ({
        name: substrate.name,
        type: substrate.type,
        ...(await substrate.state()),
        capabilities: substrate.capabilities,
        detail: substrate.detail,
      })),
    );
  }
}
