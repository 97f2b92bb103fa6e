/**
 * A docker substrate's lifecycle through the real daemon: `tower substrates provision|wake|sleep|destroy
 * NAME` do what they say to the container on the test engine, `tower substrates` shows its state, and
 * a substrate without a machine of its own says so.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { DOCKERD, dockerCli, failWithoutDockerd } from './support/dockerd.js';
import { writeSubstrates } from './support/substrates.js';

failWithoutDockerd('docker lifecycle through the CLI');

const NAME = `dlc${process.pid}`;
const CONTAINER = `tower-${NAME}`;

describe.runIf(DOCKERD)('tower substrates provision|wake|sleep|destroy', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tower-docker-cli-'));
  const stateDir = join(scratch, 'state');
  let daemon: TestDaemon;

  const containerStatus = () =>
    dockerCli('ps', '-a', '--filter', `name=^${CONTAINER}$`, '--format', '{{.State}}').trim();
  const listed = async () => (await runCli(stateDir, ['substrates'])).stdout;

  beforeAll(async () => {
    mkdirSync(stateDir, { mode: 0o700 });
    mkdirSync(join(scratch, 'ws'));
    writeSubstrates(stateDir, [
      {
        name: NAME,
        type: 'docker',
        image: DOCKERD!.image,
        docker_host: DOCKERD!.dockerHost,
        workspace: join(scratch, 'ws'),
      },
    ]);
    daemon = await startTestDaemon({ stateDir });
  });

  afterAll(async () => {
    await daemon?.stop();
    if (containerStatus()) dockerCli('rm', '-f', CONTAINER);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('creates, starts, stops and removes the container, and lists its state', async () => {
    expect(await listed()).toMatch(new RegExp(`${NAME} +docker +unknown .* +yes +off +not provisioned`));

    const provision = await runCli(stateDir, ['substrates', 'provision', NAME]);
    expect(provision.stdout).toBe(`${NAME}: sleeping (container created)\n`);
    expect(containerStatus()).toBe('created');

    const wake = await runCli(stateDir, ['substrates', 'wake', NAME]);
    expect(wake.stdout).toBe(`${NAME}: ready\n`);
    expect(containerStatus()).toBe('running');
    expect(await listed()).toMatch(new RegExp(`${NAME} +docker +ready .* +yes +off +container ${CONTAINER}`));

    const sleep = await runCli(stateDir, ['substrates', 'sleep', NAME]);
    expect(sleep.stdout).toBe(`${NAME}: sleeping (container exited)\n`);
    expect(containerStatus()).toBe('exited');

    const destroy = await runCli(stateDir, ['substrates', 'destroy', NAME]);
    expect(destroy.stdout).toBe(`${NAME}: unknown (not provisioned)\n`);
    expect(containerStatus()).toBe('');
  });

  it('says what is wrong: not provisioned, no lifecycle, unknown substrate', async () => {
    const wake = await runCli(stateDir, ['substrates', 'wake', NAME]);
    expect(wake.code).not.toBe(0);
    expect(wake.stderr).toMatch(/not provisioned: tower substrates provision/);

    const local = await runCli(stateDir, ['substrates', 'sleep', 'local']);
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/substrate local \(local\) has nothing to sleep/);

    const unknown = await runCli(stateDir, ['substrates', 'destroy', 'nowhere']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown substrate: nowhere/);
  });
});
