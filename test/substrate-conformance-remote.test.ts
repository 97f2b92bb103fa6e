/**
 * The conformance checks (test/support/conformance.ts) on the remote substrates, with real parts: ssh
 * to an OpenSSH sshd on 127.0.0.1, docker on the test Docker Engine, each with Tower's own session
 * host on the box and with tmux (ssh: `session_host: tmux`; docker: an image without Node). Then what
 * only a remote session must do: outlive a dropped link and a restart of Tower with its output
 * continuous by offset, and show a box that is down or gone within 5 s, while local sessions stream on.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { SubstrateRegistry } from '../dist/substrates/registry.js';
import { sessionInfo } from './support/agents.js';
import { conformanceChecks, MAX_BYTES } from './support/conformance.js';
import { collectOutput, readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { DOCKERD, failWithoutDockerd } from './support/dockerd.js';
import { failWithoutSshd, HAVE_SSHD, startSshd, type TestSshd } from './support/sshd.js';
import { writeSubstrates } from './support/substrates.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-remote-'));
const stateDir = join(scratch, 'state');
const workspace = join(scratch, 'workspace');
mkdirSync(stateDir, { mode: 0o700 });
mkdirSync(workspace);
const source = randomBytes(MAX_BYTES);
writeFileSync(join(workspace, 'random.bin'), source);
const containers = [`tower-conf-${process.pid}`, `tower-conf-tmux-${process.pid}`];

let sshd: TestSshd;
let daemon: TestDaemon;
let client: TowerClient;
let registry: SubstrateRegistry;

const docker = (...args: string[]) =>
  execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: DOCKERD?.dockerHost } }).toString();

/** Every substrate declared here, with the workspace as it sees it. */
const REMOTES = [
  { name: 'devbox', cwd: workspace, kind: 'tower', needs: HAVE_SSHD },
  { name: 'devbox-tmux', cwd: workspace, kind: 'tmux', needs: HAVE_SSHD },
  { name: 'ctr', cwd: '/workspace', kind: 'tower', needs: DOCKERD !== null },
  { name: 'ctr-tmux', cwd: '/workspace', kind: 'tmux', needs: DOCKERD !== null },
] as const;

beforeAll(async () => {
  const declared: unknown[] = [];
  if (HAVE_SSHD) {
    sshd = await startSshd();
    const knownHosts = join(scratch, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
    const ssh = {
      type: 'ssh',
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      identity: sshd.userKey,
      agent: false,
      known_hosts: knownHosts,
      keepalive_ms: 500,
    };
    declared.push({ ...ssh, name: 'devbox', state_dir: join(scratch, 'box-state') });
    declared.push({ ...ssh, name: 'devbox-tmux', session_host: 'tmux' });
  }
  if (DOCKERD) {
    const engine = { type: 'docker', docker_host: DOCKERD.dockerHost, workspace };
    declared.push({ ...engine, name: 'ctr', image: DOCKERD.image, container: containers[0] });
    declared.push({ ...engine, name: 'ctr-tmux', image: DOCKERD.imageNoNode, container: containers[1] });
  }
  writeSubstrates(stateDir, declared);
  daemon = await startTestDaemon({ stateDir, serveArgs: ['--no-http'] });
  client = await daemon.connect();
  for (const name of DOCKERD ? ['ctr', 'ctr-tmux'] : []) {
    await client.substrateLifecycle(name, 'provision');
    await client.substrateLifecycle(name, 'wake');
  }
  registry = new SubstrateRegistry({ stateDir });
}, 120_000);

afterAll(async () => {
  client?.end();
  await daemon?.stop();
  registry?.close();
  try {
    execFileSync(
      process.execPath,
      ['bin/tower.js', '--state-dir', join(scratch, 'box-state'), 'host', 'stop'],
      {
        stdio: 'ignore',
      },
    );
  } catch {}
  for (const container of DOCKERD ? containers : []) {
    try {
      docker('rm', '-f', container);
    } catch {}
  }
  // The tmux server devbox-tmux started on this machine (the box), with its keeper window.
  if (HAVE_SSHD) {
    try {
      execFileSync('tmux', ['-L', 'tower', 'kill-server'], { stdio: 'ignore' });
    } catch {}
  }
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

failWithoutSshd('substrate conformance on ssh');
failWithoutDockerd('substrate conformance on docker');

for (const remote of REMOTES) {
  describe.runIf(remote.needs)(`substrate ${remote.name}`, () => {
    conformanceChecks({
      name: remote.name,
      substrate: () => registry.get(remote.name),
      client: () => client,
      cwd: remote.cwd,
      source,
      remote: true,
    });

    it(`keeps its sessions on the box (${remote.kind}), and says so`, async () => {
      const { sessionId } = await client.createSession({ substrate: remote.name, shell: '/bin/sh' });
      const info = await sessionInfo(client, sessionId);
      expect(info).toMatchObject({ substrate: remote.name, link: { state: 'connected' } });
      const state = await client.bootstrapState(remote.name);
      expect(state.session_host).toBe(remote.kind);
      await client.close(sessionId);
    });
  });
}

/** A session printing `line N` N = 0…count-1, a few ms apart. */
async function counting(substrate: string, count: number, word = 'line') {
  const script = `i=0; while [ $i -lt ${count} ]; do echo "${word} $i"; i=$((i+1)); sleep 0.01; done`;
  const { sessionId } = await client.createSession({ substrate, shell: '/bin/sh', args: ['-c', script] });
  return sessionId;
}

const expected = (count: number, word = 'line') => Array.from({ length: count }, (_, i) => `${word} ${i}`);
const lines = (bytes: Buffer) => bytes.toString('utf8').trim().split(/\r?\n/);

async function ended(sessionId: string) {
  return waitFor(
    async () => {
      const info = await sessionInfo(client, sessionId);
      return info.status !== 'running' && info;
    },
    `${sessionId} to end`,
    60_000,
  );
}

/** Cut the link to a box the way a fault would: sshd's connections killed, or the bridge in the container. */
async function cutLink(name: string): Promise<void> {
  if (name.startsWith('devbox')) {
    sshd.kill();
    await sleep(300);
    await sshd.start();
    return;
  }
  const container = name === 'ctr' ? containers[0]! : containers[1]!;
  const pattern = name === 'ctr' ? 'host bridge' : 'tmux';
  docker(
    'exec',
    container,
    'sh',
    '-c',
    `for p in $(ps -eo pid,args | grep '${pattern}' | grep -v grep | awk '{print $1}'); do kill -9 $p; done; true`,
  );
}

describe.runIf(HAVE_SSHD || DOCKERD !== null)('remote sessions', () => {
  for (const name of ['devbox', 'ctr'].filter((n) => REMOTES.find((r) => r.name === n)?.needs)) {
    it(`${name}: a dropped link costs no byte and repeats none`, async () => {
      const sessionId = await counting(name, 300);
      const output = collectOutput(client, sessionId);
      await client.subscribe(sessionId, { fromOffset: 0 });
      await waitFor(() => output.text().includes('line 40\r\n'), 'output before the cut');
      await cutLink(name);
      await waitFor(
        async () => (await sessionInfo(client, sessionId)).link?.state === 'disconnected',
        'disconnected',
        5000,
      );
      await ended(sessionId);
      const journal = await readAllOutput(client, sessionId, 0);
      expect(lines(journal)).toEqual(expected(300));
      expect(Buffer.from(output.text()).equals(journal)).toBe(true);
    }, 90_000);

    it(`${name}: a restart of the control plane leaves it running, adopted with the same id`, async () => {
      const sessionId = await counting(name, 300, 'cp');
      await waitFor(async () => (await sessionInfo(client, sessionId)).last_offset > 200, 'output first');
      await daemon.stopControlPlane(true);
      await daemon.restart();
      await ended(sessionId);
      expect(lines(await readAllOutput(client, sessionId, 0))).toEqual(expected(300, 'cp'));
    }, 90_000);

    it(`${name}: a restart of Tower reattaches it, output continuous by offset`, async () => {
      const sessionId = await counting(name, 400, 'row');
      await waitFor(
        async () => (await sessionInfo(client, sessionId)).last_offset > 400,
        'output before the restart',
      );
      client.end();
      await daemon.stop();
      await daemon.restart();
      client = await daemon.connect();
      const info = await sessionInfo(client, sessionId);
      expect(info.status).not.toBe('lost');
      await ended(sessionId);
      expect(lines(await readAllOutput(client, sessionId, 0))).toEqual(expected(400, 'row'));
    }, 120_000);
  }

  it.runIf(HAVE_SSHD)(
    'devbox-tmux: after a restart the screen comes back from tmux, the gap marked',
    async () => {
      const { sessionId } = await client.createSession({ substrate: 'devbox-tmux', shell: '/bin/sh' });
      await client.write(sessionId, 'echo before-$((6*7))\r');
      await waitFor(async () => (await client.screen(sessionId)).text.includes('before-42'), 'the echo');
      client.end();
      await daemon.stop();
      await daemon.restart();
      client = await daemon.connect();
      await waitFor(
        async () => (await sessionInfo(client, sessionId)).link?.state === 'connected',
        'reattached',
        20_000,
      );
      await waitFor(
        async () => (await client.screen(sessionId)).text.includes('before-42'),
        'the restored screen',
      );
      const journal = (await readAllOutput(client, sessionId, 0)).toString('utf8');
      expect(journal).toMatch(/\[tower: [^\]]+\]/);
      await client.write(sessionId, 'echo after-$((6*8))\r');
      await waitFor(async () => (await client.screen(sessionId)).text.includes('after-48'), 'live again');
      await client.close(sessionId);
    },
    90_000,
  );

  it.runIf(HAVE_SSHD)(
    'a box that is down shows within 5 s; local sessions stream on meanwhile',
    async () => {
      const remote = await counting('devbox', 2000);
      const local = await client.createSession({ shell: '/bin/cat' });
      const echo = collectOutput(client, local.sessionId);
      await client.subscribe(local.sessionId, { fromOffset: 0 });
      sshd.kill();
      const cut = Date.now();
      await waitFor(
        async () => (await sessionInfo(client, remote)).link?.state === 'disconnected',
        'disconnected',
        5000,
      );
      const seen = Date.now() - cut;
      const typed = Date.now();
      await client.write(local.sessionId, 'local still here\r');
      await waitFor(() => echo.text().includes('local still here'), 'the local echo', 1000);
      expect(Date.now() - typed).toBeLessThan(1000);
      expect((await sessionInfo(client, remote)).link?.reason).toBeTruthy();
      process.stderr.write(`ssh: a killed sshd seen in ${seen} ms\n`);
      await sshd.start();
      await waitFor(
        async () => (await sessionInfo(client, remote)).link?.state === 'connected',
        'connected',
        20_000,
      );
      await client.close(remote);
      await client.close(local.sessionId);
    },
    60_000,
  );

  it.runIf(DOCKERD !== null)(
    'a removed container loses its sessions within 5 s, with the reason',
    async () => {
      const name = 'ctr-tmux';
      const { sessionId } = await client.createSession({ substrate: name, shell: '/bin/sh' });
      docker('rm', '-f', containers[1]!);
      const removed = Date.now();
      const info = await waitFor(
        async () => {
          const current = await sessionInfo(client, sessionId);
          return current.status === 'lost' && current;
        },
        'lost',
        5000,
      );
      expect(info.link).toMatchObject({ state: 'lost', reason: expect.stringContaining('removed') });
      process.stderr.write(`docker: a removed container's session lost in ${Date.now() - removed} ms\n`);
    },
    30_000,
  );
});
