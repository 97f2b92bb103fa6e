/**
 * The docker substrate against a real Docker Engine (scripts/test-dockerd.sh): its container's
 * lifecycle, programs in it through its box, and faults made from outside with the docker CLI.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoxLinkState, BoxProcess } from '../src/substrates/box/types.js';
import { DockerConfig } from '../src/substrates/docker/config.js';
import { CONTAINER_REMOVED, CONTAINER_STOPPED } from '../src/substrates/docker/engine.js';
import { type DockerSubstrate, dockerSubstrate } from '../src/substrates/docker/index.js';
import { SubstrateRegistry } from '../src/substrates/registry.js';
import { DOCKERD, dockerCli, failWithoutDockerd, restartDockerd } from './support/dockerd.js';
import { writeSubstrates } from './support/substrates.js';

failWithoutDockerd('docker box');

const NAME = `dbt${process.pid}`;

function waitFor(read: () => string, pattern: RegExp, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const look = () => {
      if (pattern.test(read())) return resolve();
      if (Date.now() - started > timeoutMs)
        return reject(new Error(`no ${pattern} in ${JSON.stringify(read())}`));
      setTimeout(look, 20);
    };
    look();
  });
}

function linkBecomes(substrate: DockerSubstrate, state: BoxLinkState['state'], timeoutMs = 5000) {
  const started = Date.now();
  return new Promise<{ link: BoxLinkState; ms: number }>((resolve, reject) => {
    const check = (link: BoxLinkState) => {
      if (link.state !== state) return;
      clearTimeout(timer);
      substrate.box.off('link', check);
      resolve({ link, ms: Date.now() - started });
    };
    const timer = setTimeout(() => {
      substrate.box.off('link', check);
      reject(new Error(`link still ${JSON.stringify(substrate.box.link())} after ${timeoutMs} ms`));
    }, timeoutMs);
    substrate.box.on('link', check);
    check(substrate.box.link());
  });
}

describe.runIf(DOCKERD)('docker substrate on a real engine', () => {
  let workspace: string;
  /** Tower's state dir: never inside the workspace (the container would have its token). */
  let stateDir: string;
  let substrate: DockerSubstrate;
  const config = (overrides: Partial<DockerConfig> = {}) =>
    DockerConfig.parse({
      name: NAME,
      type: 'docker',
      image: DOCKERD!.image,
      docker_host: DOCKERD!.dockerHost,
      workspace,
      ...overrides,
    });

  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'tower-docker-ws-'));
    stateDir = mkdtempSync(join(tmpdir(), 'tower-docker-state-'));
    substrate = dockerSubstrate(config(), { stateDir });
    substrate.box.start();
  });

  afterAll(async () => {
    substrate?.close();
    const left = dockerCli(
      'ps',
      '-aq',
      '--filter',
      `label=tower.substrate`,
      '--filter',
      `name=${NAME}`,
    ).trim();
    if (left) dockerCli('rm', '-f', ...left.split('\n'));
    rmSync(workspace, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('provisions, wakes, sleeps and destroys the container, each meaning exactly that', async () => {
    expect(await substrate.state()).toEqual({ state: 'unknown', reason: 'not provisioned' });
    await expect(substrate.wake!()).rejects.toThrow(/not provisioned/);

    let started = Date.now();
    await substrate.provision!();
    const provisionMs = Date.now() - started;
    await substrate.provision!();
    expect((await substrate.state()).state).toBe('sleeping');
    expect(substrate.box.link()).toEqual({ state: 'down', reason: CONTAINER_STOPPED });

    started = Date.now();
    await substrate.wake!();
    const wakeMs = Date.now() - started;
    expect(await substrate.state()).toEqual({ state: 'ready', reason: null });
    await linkBecomes(substrate, 'up', 2000);
    process.stderr.write(`docker: provision ${provisionMs} ms, wake ${wakeMs} ms\n`);

    await substrate.sleep!();
    expect((await substrate.state()).state).toBe('sleeping');
    expect(substrate.box.link()).toEqual({ state: 'down', reason: CONTAINER_STOPPED });
    await expect(substrate.exec({ argv: ['true'] })).rejects.toThrow(/container stopped/);

    await substrate.wake!();
    await substrate.wake!();
    await linkBecomes(substrate, 'up', 2000);
    const labels = dockerCli(
      'inspect',
      '-f',
      '{{json .Config.Labels}} {{.HostConfig.Init}} {{.HostConfig.NetworkMode}}',
      `tower-${NAME}`,
    );
    expect(labels).toContain(`"tower.substrate":"${NAME}"`);
    expect(labels).toContain('true none');
  });

  it('runs commands with their exit code, stdout and stderr apart, in a cwd and environment', async () => {
    const result = await substrate.exec({
      argv: ['sh', '-c', 'echo out $GREETING; pwd; echo err >&2; exit 3'],
      cwd: '/tmp',
      env: { GREETING: 'hi', SECRET: 'not given' },
      access: { givenEnv: ['GREETING'], credentialEnv: [], credentialFiles: [], readOnly: [] },
    });
    expect(result.exit_code).toBe(3);
    expect(result.stdout.toString()).toBe('out hi\n/tmp\n');
    expect(result.stderr.toString()).toBe('err\n');

    const home = await substrate.exec({ argv: ['pwd'] });
    expect(home.stdout.toString()).toBe('/root\n');
    await expect(substrate.exec({ argv: ['no-such-program'] })).rejects.toMatchObject({
      code: 'command_not_found',
    });
  });

  it('answers the credential probe from inside the container; the no-node image has tmux only', async () => {
    const query = {
      cwd: '~',
      env: { TOKEN: 'x' },
      programs: ['node', 'tmux', 'bash', 'nope'],
      variables: ['TOKEN'],
      files: ['~/.profile', '/etc/passwd'],
    };
    const found = await substrate.probe({
      ...query,
      access: { givenEnv: ['TOKEN'], credentialEnv: [], credentialFiles: [], readOnly: [] },
    });
    expect(found.home).toBe('/root');
    expect(found.programs).toEqual({
      node: '/usr/bin/node',
      tmux: '/usr/bin/tmux',
      bash: '/usr/bin/bash',
      nope: null,
    });
    expect(found.variables).toEqual({ TOKEN: true });
    expect(found.files).toEqual({ '~/.profile': false, '/etc/passwd': true });

    const bare = dockerSubstrate(config({ name: `${NAME}-bare`, image: DOCKERD!.imageNoNode }), {
      stateDir,
    });
    try {
      await bare.provision!();
      await bare.wake!();
      const there = await bare.probe({ ...query, programs: ['node', 'tmux'] });
      expect(there.programs).toEqual({ node: null, tmux: '/usr/bin/tmux' });
      const version = await bare.exec({ argv: ['tmux', '-V'] });
      expect(version.stdout.toString()).toMatch(/^tmux \d/);
    } finally {
      await bare.destroy!();
      bare.close();
    }
  });

  it('carries 5 MB through stdin and back exactly', async () => {
    const input = randomBytes(5 * 1024 * 1024);
    const started = Date.now();
    const result = await substrate.exec({ argv: ['cat'], input, maxOutputBytes: 8 * 1024 * 1024 });
    process.stderr.write(`docker: 5 MB round trip ${Date.now() - started} ms\n`);
    expect(result.exit_code).toBe(0);
    expect(result.stdout.length).toBe(input.length);
    expect(result.stdout.equals(input)).toBe(true);
  });

  it('holds a writer back while its output is not read, and loses nothing', async () => {
    const writer = await substrate.box.spawn(['head', '-c', '50000000', '/dev/zero']);
    writer.stderr.resume();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const running = await substrate.exec({ argv: ['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "'] });
    expect(running.stdout.toString()).toMatch(/head -c 50000000/);
    let received = 0;
    writer.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    expect(await writer.exit).toEqual({ code: 0, signal: null });
    expect(received).toBe(50_000_000);
  });

  it('runs a program on a terminal that echoes and is resized', async () => {
    const shell = await substrate.box.spawnTerminal(['sh'], { cols: 80, rows: 24 });
    let screen = '';
    shell.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
    });
    shell.stdin.write('echo tty-$((6*7)); stty size; tty\n');
    await waitFor(() => screen, /tty-42[\s\S]*24 80[\s\S]*\/dev\/pts\//);
    shell.resize(132, 40);
    await new Promise((resolve) => setTimeout(resolve, 200));
    shell.stdin.write('stty size; exit 5\n');
    await waitFor(() => screen, /40 132/);
    expect(await shell.exit).toEqual({ code: 5, signal: null });
  });

  it('kills a program and everything it started', async () => {
    const child = await substrate.box.spawn(['sh', '-c', 'sleep 1001 & sleep 1002 & echo started; wait']);
    let said = '';
    child.stdout.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    child.stderr.resume();
    await waitFor(() => said, /started/);
    const started = Date.now();
    child.kill();
    expect(await child.exit).toEqual({ code: null, signal: 'KILL' });
    process.stderr.write(`docker: kill took ${Date.now() - started} ms\n`);
    const left = await substrate.exec({
      argv: ['sh', '-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "'],
    });
    expect(left.stdout.toString()).not.toMatch(/sleep 100[12]/);
  });

  it('binds the workspace read-write at /workspace', async () => {
    writeFileSync(join(workspace, 'from-host'), 'host\n');
    const result = await substrate.exec({
      argv: ['sh', '-c', 'cat from-host && echo container > from-container'],
      cwd: '/workspace',
    });
    expect(result.stdout.toString()).toBe('host\n');
    expect(readFileSync(join(workspace, 'from-container'), 'utf8')).toBe('container\n');
  });

  it('refuses a workspace that is relative, has .., is / or is missing', async () => {
    const { container } = substrate.box;
    expect(() => container.workspacePath('relative/dir')).toThrow(/absolute/);
    expect(() => container.workspacePath(`${workspace}/../..`)).toThrow(/\.\./);
    expect(() => container.workspacePath('/')).toThrow(/must not be \//);
    expect(() => container.workspacePath(join(workspace, 'missing'))).toThrow(/does not exist/);
    expect(container.workspacePath(`${workspace}/`)).toBe(workspace);
    const other = dockerSubstrate(config({ name: `${NAME}-bad`, workspace: '/tmp/../' }), {
      stateDir,
    });
    try {
      await expect(other.provision!()).rejects.toThrow(/must not contain \.\./);
      expect((await other.state()).state).toBe('unknown');
    } finally {
      other.close();
    }
    expect(() => config({ workdir: 'relative' })).toThrow();
    expect(() => config({ workdir: '/a/../b' })).toThrow();
  });

  it('sees the container stopped from outside within 5 s, and up again when started', async () => {
    await linkBecomes(substrate, 'up');
    const running: BoxProcess = await substrate.box.spawn(['sleep', '1000']);
    running.stdout.resume();
    running.stderr.resume();
    dockerCli('stop', '-t', '1', `tower-${NAME}`);
    const { link, ms } = await linkBecomes(substrate, 'down', 5000);
    expect(link).toEqual({ state: 'down', reason: CONTAINER_STOPPED });
    process.stderr.write(`docker: stop seen in ${ms} ms\n`);
    expect((await running.exit).code).not.toBe(0);
    await expect(substrate.box.whenUp(1000)).rejects.toThrow(/container stopped/);
    dockerCli('start', `tower-${NAME}`);
    await linkBecomes(substrate, 'up', 5000);
    expect((await substrate.exec({ argv: ['true'] })).exit_code).toBe(0);
  });

  it('reconnects after the link is dropped', async () => {
    const running = await substrate.box.spawn(['sh', '-c', 'sleep 1000']);
    running.stdout.resume();
    running.stderr.resume();
    substrate.box.drop('test drop');
    expect(substrate.box.link()).toEqual({ state: 'connecting', reason: 'test drop' });
    expect((await running.exit).code).toBe(null);
    await linkBecomes(substrate, 'up', 5000);
  });

  it('survives a restart of the engine: the link comes back, the program in the container runs on', async () => {
    const running = await substrate.box.spawn(['sh', '-c', 'echo started; exec sleep 1003']);
    let said = '';
    running.stdout.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    running.stderr.resume();
    await waitFor(() => said, /started/);
    const states: string[] = [];
    const record = (link: BoxLinkState) => states.push(link.state);
    substrate.box.on('link', record);
    const started = Date.now();
    await restartDockerd();
    await linkBecomes(substrate, 'up', 10_000);
    substrate.box.off('link', record);
    process.stderr.write(`docker: engine restart, link up again after ${Date.now() - started} ms\n`);
    expect(states).toContain('connecting');
    expect((await running.exit).code).toBe(null);
    const left = await substrate.exec({ argv: ['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "'] });
    expect(left.stdout.toString()).toMatch(/sleep 1003/);
  });

  it('sees the container removed from outside', async () => {
    dockerCli('rm', '-f', `tower-${NAME}`);
    const { link, ms } = await linkBecomes(substrate, 'gone', 5000);
    expect(link).toEqual({ state: 'gone', reason: CONTAINER_REMOVED });
    process.stderr.write(`docker: removal seen in ${ms} ms\n`);
    expect(await substrate.state()).toEqual({ state: 'unknown', reason: 'not provisioned' });
  });

  it('destroys what it made, and never a container it did not make', async () => {
    await substrate.provision!();
    await substrate.wake!();
    await substrate.destroy!();
    expect((await substrate.state()).state).toBe('unknown');
    await substrate.destroy!();

    dockerCli('create', '--name', `tower-${NAME}`, DOCKERD!.image, 'true');
    expect((await substrate.state()).reason).toMatch(/Tower did not make it/);
    await expect(substrate.destroy!()).rejects.toThrow(/Tower did not make it/);
    expect(dockerCli('ps', '-aq', '--filter', `name=tower-${NAME}`).trim()).not.toBe('');
    dockerCli('rm', '-f', `tower-${NAME}`);
  });

  it('keeps one link per declared box while its entry does not change', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tower-docker-state-'));
    const registry = new SubstrateRegistry({ stateDir });
    try {
      const entry = { name: NAME, type: 'docker', image: DOCKERD!.image, docker_host: DOCKERD!.dockerHost };
      writeSubstrates(stateDir, [entry, { name: 'e', type: 'echo' }]);
      const first = registry.get(NAME) as DockerSubstrate;
      writeSubstrates(stateDir, [{ name: 'e', type: 'echo' }, entry]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(registry.get(NAME)).toBe(first);
      writeSubstrates(stateDir, [{ ...entry, network: 'host' }]);
      const second = registry.get(NAME) as DockerSubstrate;
      expect(second).not.toBe(first);
      expect(first.box.link()).toEqual({ state: 'closed' });
      expect(second.capabilities.network).toBe(true);
    } finally {
      registry.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
