/**
 * What the remote benchmarks share: a daemon whose substrates.json names boxes on a real sshd on
 * 127.0.0.1 (this machine as this user, with a HOME of its own: see sshd.js) and a container on the
 * test Docker Engine; the references (`ssh -tt` to the same sshd, `docker exec -it` into the same
 * container) read and echoed the same way as Tower's client; and a cleanup that leaves no container,
 * sshd, tmux server or session host of the box behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import * as pty from '@lydell/node-pty';
import { TowerClient } from '../dist/client/client.js';
import { towerOnBox } from '../dist/substrates/bootstrap/state.js';
import { log, now, outputWaiter, ROOT, startDaemon, TOWER_BIN, timeEchoes } from './lib.js';
import { startSshd } from './sshd.js';

export const CONTAINER = 'tower-bench-ctr';

/** The test Docker Engine of scripts/test-dockerd.sh, or null. */
export function testDockerd() {
  let text;
  try {
    text = readFileSync('/run/tower-test/env', 'utf8');
  } catch {
    return null;
  }
  const values = Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const found = { dockerHost: values.DOCKER_HOST, image: values.TOWER_TEST_IMAGE };
  const ok = spawnSync('docker', ['image', 'inspect', found.image], {
    env: { ...process.env, DOCKER_HOST: found.dockerHost },
    stdio: 'ignore',
    timeout: 10_000,
  });
  return ok.status === 0 ? found : null;
}

/** Whether a Tower session host answers on a state dir's socket. */
function hostAnswers(stateDir) {
  const path = join(stateDir, 'tower.sock');
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts sshd (and, with `docker`, provisions and wakes the container), then a daemon with those
 * substrates, and bootstraps each box with one short session so no figure includes a bootstrap.
 * `substrates`: any of 'ssh', 'ssh-tmux', 'docker'.
 */
export async function remoteSetup({ substrates, daemonArgs = [] }) {
  const dockerd = substrates.includes('docker') ? testDockerd() : null;
  if (substrates.includes('docker') && !dockerd) {
    throw new Error('the test Docker Engine is not running: bash scripts/test-dockerd.sh');
  }
  const cleanups = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        log(`cleanup: ${error.message}`);
      }
    }
  };
  try {
    const sshd = await startSshd();
    cleanups.push(() => sshd.stop());
    const entries = [];
    if (substrates.includes('ssh')) entries.push(sshd.substrate('devbox', { session_host: 'tower' }));
    if (substrates.includes('ssh-tmux'))
      entries.push(sshd.substrate('devbox-tmux', { session_host: 'tmux' }));
    let workspace = null;
    if (dockerd) {
      workspace = mkdtempSync(join(tmpdir(), 'tower-bench-ws-'));
      cleanups.push(() => rmSync(workspace, { recursive: true, force: true }));
      entries.push({
        name: 'ctr',
        type: 'docker',
        image: dockerd.image,
        docker_host: dockerd.dockerHost,
        workspace,
        container: CONTAINER,
        session_host: 'tower',
      });
      // Whatever happens to the daemon, the container goes.
      cleanups.push(() => docker(dockerd, 'rm', '-f', CONTAINER));
    }
    const daemon = await startDaemon({ substrates: entries, args: daemonArgs });
    // After the daemon is gone (it detaches remote sessions, which run on): the box's own processes.
    // Read before the daemon's state dir goes: which Tower the bootstrap put on the box.
    let boxTower = null;
    cleanups.push(async () => {
      if (substrates.includes('ssh')) await stopBoxHost(boxTower, sshd);
      // Its own TMUX_TMPDIR: only the box's tmux server is there.
      spawnSync('tmux', ['-L', 'tower', 'kill-server'], {
        stdio: 'ignore',
        env: { ...process.env, TMUX_TMPDIR: sshd.tmuxDir },
      });
    });
    cleanups.push(() => daemon.stop());
    const client = await daemon.connect();
    if (dockerd) {
      await client.substrateLifecycle('ctr', 'provision');
      await client.substrateLifecycle('ctr', 'wake');
      cleanups.push(() => client.substrateLifecycle('ctr', 'destroy'));
    }
    for (const entry of entries) {
      const t0 = now();
      const { sessionId } = await client.createSession({
        substrate: entry.name,
        shell: '/bin/sh',
        args: ['-c', 'true'],
      });
      await waitExited(client, sessionId);
      await client.remove(sessionId);
      log(`${entry.name}: bootstrapped and a first session run in ${(now() - t0).toFixed(0)} ms`);
    }
    boxTower = towerOnBox(daemon.stateDir, 'devbox');
    // The connection may be gone by then (a benchmark that restarts the daemon closes them itself).
    cleanups.push(() => closeAll(client).catch(() => {}));
    return { daemon, client, sshd, dockerd, boxTower, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function waitExited(client, sessionId, timeoutMs = 180_000) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const info = (await client.list()).find((s) => s.id === sessionId);
    if (info && info.status !== 'running') return info;
    if (now() > deadline) throw new Error(`session ${sessionId} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** End every running session (on a box they would run on after the daemon) and remove them all. */
export async function closeAll(client) {
  for (const s of await client.list()) {
    if (s.status === 'running') await client.close(s.id).catch(() => {});
    await client.remove(s.id).catch(() => {});
  }
}

/** `tower --state-dir ~/.tower/box host stop` (the box user's home) with the Tower bootstrap put there. */
export async function stopBoxHost(boxTower, sshd) {
  const boxStateDir = join(sshd.home, '.tower', 'box');
  if (!(await hostAnswers(boxStateDir))) return;
  const argv = boxTower ?? [process.execPath, TOWER_BIN];
  const run = spawnSync(argv[0], [...argv.slice(1), '--state-dir', boxStateDir, 'host', 'stop'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  log(`box host on ${boxStateDir}: ${(run.stdout || run.stderr || '').trim()}`);
}

export function docker(dockerd, ...args) {
  return spawnSync('docker', args, {
    env: { ...process.env, DOCKER_HOST: dockerd.dockerHost },
    stdio: 'ignore',
    timeout: 60_000,
  });
}

// ---------------------------------------------------------------- references

/**
 * Reads a client program's stdout until it exits: `ssh -tt` with pipes (the remote side has the PTY),
 * or, with `terminal`, under a node-pty of its own (`docker exec -it` wants a terminal on its stdin).
 */
export function clientRead(argv, { terminal = false, env = process.env, onFirst } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let bytes = 0;
    let lastAt = t0;
    const onData = (chunk) => {
      if (bytes === 0) onFirst?.();
      bytes += chunk.length;
      lastAt = now();
    };
    const done = (exitCode) => resolve({ bytes, ms: lastAt - t0, exitCode });
    if (terminal) {
      const child = pty.spawn(argv[0], argv.slice(1), {
        name: 'xterm-256color',
        cols: 80,
        rows: 24,
        encoding: null,
        cwd: ROOT,
        env,
      });
      child.onData(onData);
      child.onExit(({ exitCode }) => setTimeout(() => done(exitCode), 50));
    } else {
      const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env });
      child.stdout.on('data', onData);
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0 ? done(code) : reject(new Error(`${argv[0]} exited ${code}: ${stderr}`)),
      );
    }
  });
}

/** A long-lived client program running the echo program; echo(rounds) times one byte at a time. */
export async function clientEcho(argv, { terminal = false, env = process.env } = {}) {
  const output = outputWaiter();
  let write;
  let end;
  if (terminal) {
    const child = pty.spawn(argv[0], argv.slice(1), {
      name: 'xterm-256color',
      cols: 80,
      rows: 24,
      encoding: null,
      cwd: ROOT,
      env,
    });
    child.onData((chunk) => output.feed(chunk.toString('latin1')));
    write = (byte) => child.write(byte);
    end = () => {
      child.kill('SIGKILL');
      child.destroy?.();
    };
  } else {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'], env });
    child.stdout.on('data', (chunk) => output.feed(chunk.toString('latin1')));
    write = (byte) => child.stdin.write(byte);
    end = () => child.kill('SIGKILL');
  }
  const waitFor = (want) => output.waitFor(want);
  await waitFor('READY');
  return { echo: (rounds) => timeEchoes(rounds, waitFor, write), close: end };
}

/**
 * A client of the box's session host straight over `ssh … tower host bridge` (the bridge Tower runs,
 * through the ssh CLI instead of Tower's own connection): the box's half of the path without this
 * machine's session host, for diagnostics.
 */
export async function bridgeClient(sshd, boxTower) {
  const command = `${boxTower.join(' ')} --state-dir "$HOME/.tower/box" host bridge`;
  const child = spawn('ssh', sshd.sshArgv(command, { tty: false }).slice(1), {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const client = await TowerClient.overAuthenticated(
    Duplex.from({ readable: child.stdout, writable: child.stdin }),
  );
  client.on('error', () => {});
  return {
    client,
    close() {
      client.end();
      child.kill('SIGTERM');
    },
  };
}
