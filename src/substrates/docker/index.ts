/**
 * `docker`: sessions in a container of the substrate's own, on a Docker Engine (see engine.ts for the
 * link, container.ts for what the container is). provision creates it, wake starts it, sleep stops
 * it, destroy removes it; nothing else does any of these. Commands and the credential probe run in it
 * as `docker exec`s. Declared in substrates.json (config.ts).
 */
import { TowerError } from '../../protocol/index.js';
import { streamBox } from '../box/exec.js';
import { probeBox } from '../box/probe.js';
import { collect } from '../child.js';
import type { Substrate, SubstrateContext } from '../types.js';
import type { DockerConfig } from './config.js';
import { DockerBox } from './engine.js';

export interface DockerSubstrate extends Substrate {
  readonly box: DockerBox;
  close(): void;
}

export function dockerSubstrate(config: DockerConfig, _context: SubstrateContext): DockerSubstrate {
  const box = new DockerBox(config);
  const { container } = box;
  const changed = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } finally {
      box.start();
      await box.refresh();
    }
  };
  return {
    name: config.name,
    type: 'docker',
    remote: true,
    box,
    capabilities: {
      exec: true,
      stream_exec: true,
      reattach: true,
      lifecycle: true,
      isolated: true,
      network: config.network !== 'none',
    },
    detail: [
      `container ${container.name} from ${config.image}`,
      config.workspace ? `${config.workspace} at ${config.workdir}` : null,
      `network ${config.network}`,
      config.docker_host ? `engine ${config.docker_host}` : null,
    ]
      .filter(Boolean)
      .join(', '),
    state: () => container.status(),
    openPty: async () => {
      throw new TowerError('not_supported', 'not yet');
    },
    exec: (command) => collect(streamBox(box, command), command),
    streamExec: (command) => streamBox(box, command),
    probe: (query) => probeBox(box, query),
    reattach: () => {
      throw new TowerError('not_supported', 'not yet');
    },
    provision: () => changed(() => container.provision()),
    wake: () => changed(() => container.start()),
    sleep: () => changed(() => container.stop()),
    destroy: () => changed(() => container.remove()),
    close: () => box.close(),
  };
}
