/**
 * (b) Keystroke echo: one byte written through the daemon to `cat` on a raw-mode PTY, timed until its
 * echo arrives as an 'output' event; against the same through a raw @lydell/node-pty in this process.
 * Raw and daemon rounds alternate in blocks so load changes hit both alike.
 * Diagnostics: the same on the instrumented daemon, reporting how long each echo spent inside the
 * daemon's output path.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEchoSession,
  ECHO_PROGRAM,
  instrumentedStats,
  log,
  outputWaiter,
  percentile,
  ROOT,
  rawPtyEcho,
  startDaemon,
  subscribeEcho,
  timeEchoes,
} from './lib.js';

const ROUNDS = 4000;
const BLOCKS = 16;
const WARMUP = 50;
const DIAG_ROUNDS = 600;
const ECHO_DIAG_LABEL = {
  default: 'instrumented daemon',
  noscreen: 'screen emulator bypassed',
};
/** A session running ECHO_PROGRAM, subscribed; echo(rounds) returns one latency sample per byte. */
async function echoSession(daemon) {
  const client = await daemon.connect();
  const sessionId = await createEchoSession(client);
  const output = await subscribeEcho(client, sessionId);
  const waitOutput = (want) => output.waitFor(want);
  // agor-pty style: a write_input without req_id gets no `ack` (the client's socket is private to it).
  const sendNoAck = (byte) =>
    client.socket.write(
      `${JSON.stringify({ type: 'write_input', session_id: sessionId, data: Buffer.from(byte).toString('base64') })}\n`,
    );
  const send = (byte) =>
    client.write(sessionId, byte).catch((error) => log(`echo write failed: ${error.message}`));
  return {
    async echo(rounds, { ack = true } = {}) {
      return timeEchoes(rounds, waitOutput, ack ? send : sendNoAck);
    },
    close: () => client.close(sessionId),
  };
}

function summary(samples) {
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
    n: samples.length,
  };
}

/** A separate, idle Node process measuring its own event-loop delay (1 ms timer) until stop(). */
function idleLoopProbe() {
  const code =
    "const h=require('node:perf_hooks').monitorEventLoopDelay({resolution:1});h.enable();" +
    "process.stdin.resume();process.stdin.on('end',()=>{h.disable();" +
    'console.log(JSON.stringify({p50:h.percentile(50)/1e6,p99:h.percentile(99)/1e6,max:h.max/1e6}));process.exit(0)})';
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  return {
    stop() {
      child.stdin.end();
      return new Promise((resolve) => child.once('exit', () => resolve(out ? JSON.parse(out) : null)));
    },
  };
}

/** Echo on the instrumented daemon in `mode`, interleaved with raw blocks; includes the daemon's STATS. */
async function diagnose(mode) {
  const daemon = await startDaemon({
    script: join(import.meta.dirname, 'instrumented-daemon.js'),
    args: [mode],
  });
  const raw = [];
  const tower = [];
  // Scheduling noise on this machine: an idle Node process's event-loop delay over the same period.
  const idle = idleLoopProbe();
  try {
    const session = await echoSession(daemon);
    await session.echo(WARMUP);
    for (let b = 0; b < 3; b++) {
      raw.push(...(await rawPtyEcho(ECHO_PROGRAM, DIAG_ROUNDS / 3 + WARMUP, 'READY')).slice(WARMUP));
      tower.push(...(await session.echo(DIAG_ROUNDS / 3)));
    }
    await session.close();
    const stats = await instrumentedStats(daemon);
    return { mode, raw: summary(raw), tower: summary(tower), stats, idleLoopDelayMs: await idle.stop() };
  } finally {
    await daemon.stop();
  }
}

/** The minimal-daemon reference: bench/relay.js in its own process, one connection, raw bytes. */
async function relaySession() {
  const dir = mkdtempSync(join(tmpdir(), 'tower-relay-'));
  const path = join(dir, 'relay.sock');
  const child = spawn(process.execPath, [join(import.meta.dirname, 'relay.js'), path, ECHO_PROGRAM], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: ROOT,
  });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const socket = connect(path);
  const output = outputWaiter();
  socket.on('data', (chunk) => output.feed(chunk.toString('latin1')));
  const waitOutput = (want) => output.waitFor(want);
  await waitOutput('READY');
  return {
    async echo(rounds) {
      return timeEchoes(rounds, waitOutput, (byte) => socket.write(byte));
    },
    async close() {
      socket.destroy();
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function run() {
  const daemon = await startDaemon();
  const raw = [];
  const relay = [];
  const tower = [];
  const noAck = [];
  try {
    const session = await echoSession(daemon);
    const relayed = await relaySession();
    await session.echo(WARMUP);
    await relayed.echo(WARMUP);
    const perBlock = ROUNDS / BLOCKS;
    for (let b = 0; b < BLOCKS; b++) {
      const r = (await rawPtyEcho(ECHO_PROGRAM, perBlock + WARMUP, 'READY')).slice(WARMUP);
      raw.push(...r);
      const m = await relayed.echo(perBlock);
      relay.push(...m);
      const t = await session.echo(perBlock);
      tower.push(...t);
      const n = await session.echo(perBlock, { ack: false });
      noAck.push(...n);
      const [rs, ms, ts, ns] = [summary(r), summary(m), summary(t), summary(n)];
      log(
        `echo block ${b + 1}/${BLOCKS}: raw p50 ${rs.p50.toFixed(3)} p99 ${rs.p99.toFixed(3)} ms;` +
          ` relay p50 ${ms.p50.toFixed(3)} p99 ${ms.p99.toFixed(3)} ms; tower p50 ${ts.p50.toFixed(3)} p99 ${ts.p99.toFixed(3)} ms;` +
          ` tower without ack p50 ${ns.p50.toFixed(3)} p99 ${ns.p99.toFixed(3)} ms`,
      );
    }
    await session.close();
    await relayed.close();
  } finally {
    await daemon.stop();
  }
  const diag = {};
  for (const mode of ['default', 'noscreen']) {
    const d = await diagnose(mode);
    diag[mode] = d;
    log(
      `echo diag ${mode}: raw p50 ${d.raw.p50.toFixed(3)} p99 ${d.raw.p99.toFixed(3)}; tower p50 ${d.tower.p50.toFixed(3)}` +
        ` p99 ${d.tower.p99.toFixed(3)} ms; inside the daemon: input (socket -> PTY write) ${JSON.stringify(d.stats?.inputMs)},` +
        ` output (PTY read -> frame written) ${JSON.stringify(d.stats?.residenceMs)};` +
        ` journal append ${JSON.stringify(d.stats?.appendMs)}; event-loop delay ${JSON.stringify(d.stats?.loopDelayMs)}` +
        ` (an idle node process meanwhile: ${JSON.stringify(d.idleLoopDelayMs)})`,
    );
  }
  const r = summary(raw);
  const m = summary(relay);
  const t = summary(tower);
  const na = summary(noAck);
  const addedP99 = t.p99 - r.p99;
  const diagRows = ['default', 'noscreen'].map((mode) => {
    const d = diag[mode];
    const res = d.stats?.residenceMs;
    const inp = d.stats?.inputMs;
    return {
      figure: `   diag: echo p99, ${ECHO_DIAG_LABEL[mode]}`,
      value: d.tower.p99,
      unit: 'ms',
      reference: d.raw.p99,
      referenceLabel: 'raw node-pty echo p99',
      ratio: d.tower.p99 / d.raw.p99,
      target: '(diagnostic)',
      met: null,
      note: `p50 ${d.tower.p50.toFixed(3)} (raw ${d.raw.p50.toFixed(3)}); in daemon p50/p99: input ${inp?.p50}/${inp?.p99}, output ${res?.p50}/${res?.p99} ms; daemon loop delay p99 ${d.stats?.loopDelayMs?.p99?.toFixed(1)} ms (idle node process ${d.idleLoopDelayMs?.p99?.toFixed(1)} ms)`,
    };
  });
  return {
    name: 'echo',
    rows: [
      {
        figure: 'b. keystroke echo p50',
        value: t.p50,
        unit: 'ms',
        reference: r.p50,
        referenceLabel: 'raw node-pty echo p50',
        ratio: t.p50 / r.p50,
        target: '(context)',
        met: null,
        note: `added ${(t.p50 - r.p50).toFixed(3)} ms`,
      },
      {
        figure: 'b. keystroke echo p99',
        value: t.p99,
        unit: 'ms',
        reference: r.p99,
        referenceLabel: 'raw node-pty echo p99',
        ratio: t.p99 / r.p99,
        target: '<= +2 ms at p99',
        met: addedP99 <= 2,
        note: `added ${addedP99.toFixed(3)} ms; max ${t.max.toFixed(2)} ms (raw max ${r.max.toFixed(2)} ms); n=${tower.length}`,
      },
      {
        figure: '   minimal relay process, echo p99',
        value: m.p99,
        unit: 'ms',
        reference: r.p99,
        referenceLabel: 'raw node-pty echo p99',
        ratio: m.p99 / r.p99,
        target: '(floor for any daemon)',
        met: null,
        note: `p50 ${m.p50.toFixed(3)} ms; socket <-> node-pty copy in its own process (bench/relay.js); Tower vs relay at p99: ${(t.p99 - m.p99 >= 0 ? '+' : '') + (t.p99 - m.p99).toFixed(3)} ms`,
      },
      {
        figure: '   diag: echo p99, write_input without ack',
        value: na.p99,
        unit: 'ms',
        reference: r.p99,
        referenceLabel: 'raw node-pty echo p99',
        ratio: na.p99 / r.p99,
        target: '(diagnostic)',
        met: null,
        note: `p50 ${na.p50.toFixed(3)} ms; same daemon and session, no req_id so no 'ack' reply (n=${noAck.length}); vs with ack at p99: ${(na.p99 - t.p99).toFixed(3)} ms`,
      },
      ...diagRows,
    ],
    details: { raw: r, relay: m, tower: t, noAck: na, addedP99, diag },
  };
}
