/**
 * (j) Remote substrates: throughput and keystroke echo through a session on an ssh box (Tower's own
 * session host on the box, and tmux on the box) and in a docker container, each beside the plain
 * client to the same place in the same run: `ssh -tt` to the same sshd, `docker exec -it` into the same
 * container, running the same program.
 *
 * Throughput: 100 MB of printable lines (`head -c 75000000 /dev/zero | base64`: the container image has
 * no `yes`, so not (a)'s program), read by Tower's client from offset 0 until the session closes, or by
 * the reference client from its stdout until it exits. The rate runs from the first byte to the last
 * (the reference's first byte waits for an SSH handshake that Tower's long-lived link has already
 * done); the time from the start to the first byte is reported beside it. Pairs alternate.
 * Echo: (b)'s program, one byte at a time; blocks of every series alternate.
 */
import { collect, ECHO_PROGRAM, log, MB, median, now, percentile, subscribeEcho, timeEchoes } from './lib.js';
import { bridgeClient, CONTAINER, clientEcho, clientRead, remoteSetup } from './remote-lib.js';

const BYTES = 100_000_000;
const REPS = 3;
/** Through tmux 100 MB takes half a minute here (control mode escapes the output): one pair. */
const TMUX_REPS = 1;
const DIAG_REPS = 2;
const ECHO_ROUNDS = 1500;
const ECHO_BLOCKS = 10;
const WARMUP = 50;

/** `bytes` of base64 in 76-column lines (the PTY makes each \n \r\n); head and base64 are in every image. */
const flood = (bytes) => `head -c ${Math.round((bytes * 3) / 4)} /dev/zero | base64`;

/**
 * Where each series runs (`client`, and `substrate` on it), and the reference client that goes to the
 * same place. The last is a diagnostic: the box's host alone, over a bridge without this machine's host.
 */
function targets({ client, sshd, dockerd }, bridge) {
  const dockerEnv = { ...process.env, DOCKER_HOST: dockerd.dockerHost, TERM: 'xterm-256color' };
  const dockerArgv = (command) => ['docker', 'exec', '-it', CONTAINER, '/bin/sh', '-c', command];
  return [
    {
      key: 'ssh',
      client,
      substrate: 'devbox',
      label: 'ssh, session host on the box',
      refLabel: 'ssh -tt',
      reps: REPS,
      reference: { argv: (c) => sshd.sshArgv(c), options: {} },
    },
    {
      key: 'ssh-tmux',
      client,
      substrate: 'devbox-tmux',
      label: 'ssh, tmux on the box',
      refLabel: 'ssh -tt',
      reps: TMUX_REPS,
      reference: { argv: (c) => sshd.sshArgv(c), options: {} },
    },
    {
      key: 'docker',
      client,
      substrate: 'ctr',
      label: 'docker, session host in the container',
      refLabel: 'docker exec -it',
      reps: REPS,
      reference: { argv: dockerArgv, options: { terminal: true, env: dockerEnv } },
    },
    {
      key: 'ssh-bridge',
      client: bridge.client,
      substrate: undefined,
      label: "the box's host alone, over ssh … tower host bridge",
      diag: true,
      refLabel: 'ssh -tt',
      reps: DIAG_REPS,
      reference: { argv: (c) => sshd.sshArgv(c), options: {} },
    },
  ];
}

async function towerRead(client, substrate) {
  const t0 = now();
  let firstAt = 0;
  const { sessionId } = await client.createSession({
    substrate,
    shell: '/bin/sh',
    args: ['-c', flood(BYTES)],
    cols: 80,
    rows: 24,
  });
  const collector = collect(client, sessionId, {
    onBytes: () => {
      firstAt ||= now();
    },
  });
  await client.subscribe(sessionId, { fromOffset: 0 });
  await collector.done;
  const s = collector.stats();
  await client.remove(sessionId);
  return { bytes: s.bytes, gaps: s.gaps, snapshots: s.snapshots, ...rates(t0, firstAt, s.lastAt, s.bytes) };
}

async function referenceRead(target) {
  const t0 = now();
  let firstAt = 0;
  const r = await clientRead(target.reference.argv(flood(BYTES)), {
    ...target.reference.options,
    onFirst: () => {
      firstAt = now();
    },
  });
  return { bytes: r.bytes, ...rates(t0, firstAt, t0 + r.ms, r.bytes) };
}

function rates(t0, firstAt, lastAt, bytes) {
  return {
    firstByteMs: firstAt - t0,
    ms: lastAt - firstAt,
    mbps: bytes / MB / ((lastAt - firstAt) / 1000),
    fromStartMbps: bytes / MB / ((lastAt - t0) / 1000),
  };
}

async function throughput(target) {
  const pairs = [];
  for (let i = 0; i < target.reps; i++) {
    const ref = await referenceRead(target);
    const tower = await towerRead(target.client, target.substrate);
    pairs.push({ ref, tower, ratio: tower.mbps / ref.mbps });
    log(
      `remote throughput ${target.key} #${i + 1}: tower ${tower.mbps.toFixed(1)} MB/s (${tower.bytes} bytes, first byte` +
        ` ${tower.firstByteMs.toFixed(0)} ms, gaps ${tower.gaps}, snapshots ${tower.snapshots});` +
        ` ${target.refLabel} ${ref.mbps.toFixed(1)} MB/s (${ref.bytes} bytes, first byte ${ref.firstByteMs.toFixed(0)} ms)`,
    );
  }
  return pairs;
}

async function towerEcho(client, substrate) {
  const { sessionId } = await client.createSession({
    substrate,
    shell: '/bin/sh',
    args: ['-c', ECHO_PROGRAM],
    cols: 80,
    rows: 24,
  });
  const output = await subscribeEcho(client, sessionId);
  const send = (byte) =>
    client.write(sessionId, byte).catch((error) => log(`echo write failed: ${error.message}`));
  return {
    echo: (rounds) => timeEchoes(rounds, (want) => output.waitFor(want), send),
    close: () => client.close(sessionId),
  };
}

const summary = (samples) => ({
  p50: percentile(samples, 50),
  p99: percentile(samples, 99),
  max: Math.max(...samples),
  n: samples.length,
});

async function echoes(list) {
  const series = [];
  for (const target of list) {
    const tower = await towerEcho(target.client, target.substrate);
    const ref = await clientEcho(target.reference.argv(ECHO_PROGRAM), target.reference.options);
    await tower.echo(WARMUP);
    await ref.echo(WARMUP);
    series.push({ target, tower, ref, towerSamples: [], refSamples: [] });
  }
  const perBlock = ECHO_ROUNDS / ECHO_BLOCKS;
  for (let b = 0; b < ECHO_BLOCKS; b++) {
    const parts = [];
    for (const s of series) {
      s.refSamples.push(...(await s.ref.echo(perBlock)));
      s.towerSamples.push(...(await s.tower.echo(perBlock)));
      const [t, r] = [summary(s.towerSamples.slice(-perBlock)), summary(s.refSamples.slice(-perBlock))];
      parts.push(
        `${s.target.key} p50/p99 ${t.p50.toFixed(2)}/${t.p99.toFixed(2)} (ref ${r.p50.toFixed(2)}/${r.p99.toFixed(2)})`,
      );
    }
    log(`remote echo block ${b + 1}/${ECHO_BLOCKS}: ${parts.join('; ')} ms`);
  }
  for (const s of series) {
    await s.tower.close();
    s.ref.close();
  }
  return series.map((s) => ({
    target: s.target,
    tower: summary(s.towerSamples),
    ref: summary(s.refSamples),
  }));
}

export async function run() {
  const setup = await remoteSetup({ substrates: ['ssh', 'ssh-tmux', 'docker'] });
  const flows = {};
  let echo;
  let bridge;
  try {
    bridge = await bridgeClient(setup.sshd, setup.boxTower);
    const list = targets(setup, bridge);
    for (const target of list) flows[target.key] = await throughput(target);
    echo = await echoes(list);
  } finally {
    bridge?.close();
    await setup.cleanup();
  }
  const list = echo.map((e) => e.target);
  const rows = [];
  const details = { throughput: flows, echo: {} };
  for (const target of list) {
    const pairs = flows[target.key];
    const tower = median(pairs.map((p) => p.tower.mbps));
    const ref = median(pairs.map((p) => p.ref.mbps));
    const refBytes = Math.max(...pairs.map((p) => p.ref.bytes));
    const complete = pairs.every(
      (p) => p.tower.bytes >= refBytes && p.tower.gaps === 0 && p.tower.snapshots === 0,
    );
    rows.push({
      figure: `${target.diag ? '   diag:' : 'j.'} throughput, ${target.label}`,
      value: tower,
      unit: 'MB/s',
      reference: ref,
      referenceLabel: `${target.refLabel}, same program`,
      ratio: median(pairs.map((p) => p.ratio)),
      target: '(context)',
      met: null,
      note:
        `${complete ? `all ${refBytes} bytes, no gaps/resyncs` : 'BYTES MISSING'}; pair ratios ${pairs.map((p) => p.ratio.toFixed(2)).join(' ')};` +
        ` first byte after ${median(pairs.map((p) => p.tower.firstByteMs)).toFixed(0)} ms (reference ${median(pairs.map((p) => p.ref.firstByteMs)).toFixed(0)} ms)`,
    });
  }
  for (const e of echo) {
    details.echo[e.target.key] = { tower: e.tower, ref: e.ref };
    rows.push({
      figure: `${e.target.diag ? '   diag:' : 'j.'} echo p99, ${e.target.label}`,
      value: e.tower.p99,
      unit: 'ms',
      reference: e.ref.p99,
      referenceLabel: `${e.target.refLabel} echo p99`,
      ratio: e.tower.p99 / e.ref.p99,
      target: '(context)',
      met: null,
      note: `p50 ${e.tower.p50.toFixed(3)} ms (reference ${e.ref.p50.toFixed(3)}); added at p99 ${(e.tower.p99 - e.ref.p99).toFixed(2)} ms; max ${e.tower.max.toFixed(1)} (reference ${e.ref.max.toFixed(1)}); n=${e.tower.n}`,
    });
  }
  return { name: 'remote', rows, details };
}
