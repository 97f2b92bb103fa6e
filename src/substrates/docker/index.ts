/**
 * `docker`: sessions in a container of the substrate's own, on a Docker Engine (see engine.ts for the
 * link, container.ts for what the container is). provision creates it, wake starts it, sleep stops
 * it, destroy removes it; nothing else does any of these. Commands and the credential probe run in it
 * as `docker exec`s. Declared in substrates.json (config.ts).
 */
import { type RemoteContext, remoteSubstrate } from '../box-host/remote-substrate.js';
import type { Substrate } from '../types.js';
import type { DockerConfig } from './config.js';
import { DockerBox } from './engine.js';

export interface DockerSubstrate extends Substrate {
  readonly box: DockerBox;
  close(): void;
}

export function dockerSubstrate(config: DockerConfig, context: RemoteContext): DockerSubstrate {
  const box = new DockerBox(config, context.stateDir);
  const { container } = box;
  const changed = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } finally {
      box.start();
      await box.refresh();
    }
  };
  const substrate = remoteSubstrate(
    {
      name: config.name,
      type: 'docker',
      box,
      sessionHost: config.session_host,
      // Sessions start in the workspace when one is bound, else in the container user's home.
      workdir: config.workspace ? config.workdir : undefined,
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
        config.docker_host ? `engine ${container.host}` : null,
      ]
        .filter(Boolean)
        .join(', '),
      status: () => container.status(),
      provision: () => changed(() => container.provision()),
      wake: () => changed(() => container.start()),
      sleep: () => changed(() => container.stop()),
      destroy: () => changed(() => container.remove()),
    },
    context,
  );
  return { ...substrate, box, close: () => substrate.close?.() };
}
