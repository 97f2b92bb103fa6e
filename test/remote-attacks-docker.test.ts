/**
 * A docker substrate's workspace is bind-mounted read-write into its container. One that holds this
 * Tower's state dir (`~` with the default ~/.tower, or a link to it) would hand the container Tower's
 * token and socket, and with them this machine: it is refused.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerConfig } from '../src/substrates/docker/config.js';
import { dockerSubstrate } from '../src/substrates/docker/index.js';
import { DOCKERD, dockerCli, failWithoutDockerd } from './support/dockerd.js';

failWithoutDockerd('docker workspace attacks');

const NAME = `dwa${process.pid}`;
const root = mkdtempSync(join(tmpdir(), 'tower-attack-ws-'));
const stateDir = join(root, 'state');
mkdirSync(stateDir);
symlinkSync(root, join(tmpdir(), `tower-attack-ws-link-${process.pid}`));

afterAll(() => {
  const left = dockerCli('ps', '-aq', '--filter', 'label=tower.substrate', '--filter', `name=${NAME}`).trim();
  if (left) dockerCli('rm', '-f', ...left.split('\n'));
  rmSync(join(tmpdir(), `tower-attack-ws-link-${process.pid}`), { force: true });
  rmSync(root, { recursive: true, force: true });
});

describe.runIf(DOCKERD)('a docker workspace that holds the state dir', () => {
  it.each([
    ['the parent of the state dir', () => root],
    ['the state dir itself', () => stateDir],
    ['a link to the parent', () => join(tmpdir(), `tower-attack-ws-link-${process.pid}`)],
  ])('is refused: %s', async (_what, workspace) => {
    const substrate = dockerSubstrate(
      DockerConfig.parse({
        name: NAME,
        type: 'docker',
        image: DOCKERD!.image,
        docker_host: DOCKERD!.dockerHost,
        workspace: workspace(),
      }),
      { stateDir } as never,
    );
    try {
      await expect(substrate.provision!()).rejects.toThrow(/state dir/);
    } finally {
      substrate.close();
    }
  });
});
