/**
 * A docker_host written with credentials in it (tcp://user:token@host) must not show them: the
 * substrate's detail goes to every client and the web, its errors to logs and replies.
 */
import { describe, expect, it } from 'vitest';
import { DockerConfig } from '../src/substrates/docker/config.js';
import { dockerSubstrate } from '../src/substrates/docker/index.js';

describe('docker_host with credentials', () => {
  it('shows them neither in the detail nor in an error', async () => {
    const substrate = dockerSubstrate(
      DockerConfig.parse({
        name: 'creds',
        type: 'docker',
        image: 'none',
        // Port 1 on loopback: nothing listens, the engine cannot be reached.
        docker_host: 'tcp://admin:s3cretToken@127.0.0.1:1',
      }),
      { stateDir: '/nonexistent' } as never,
    );
    try {
      expect(substrate.detail).not.toContain('s3cretToken');
      expect(substrate.detail).toContain('127.0.0.1:1');
      const failed = await substrate.provision!().then(
        () => 'provisioned',
        (error: Error) => error.message,
      );
      expect(failed).toMatch(/cannot reach the Docker Engine/);
      expect(failed).not.toContain('s3cretToken');
      const state = await substrate.state();
      expect(JSON.stringify(state)).not.toContain('s3cretToken');
    } finally {
      substrate.close();
    }
  });
});
