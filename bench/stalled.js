/**
 * (e) One stalled subscriber during (a): a raw socket client authenticates, subscribes, and never reads
 * again (socket.pause()), while a normal client receives the 100 MB. The normal client's throughput is
 * compared with (a) run on the same daemon just before/after (interleaved); the daemon's RSS is sampled
 * every 100 ms during the run. Afterwards the stalled client reads again: what the daemon kept for it in
 * memory, then the rest from the journal on disk, through to the end.
 */

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  collect,
  floodSession,
  log,
  MB,
  MiB,
  median,
  now,
  sampleRss,
  sleep,
  startDaemon,
  threadCpu,
} from './lib.js';
import { BYTES, towerRead } from './throughput.js';

const REPS = 3;

/** A raw NDJSON socket client: auth, then stop reading. */
async function stalledClient(stateDir) {
  const socket = connect(join(stateDir, 'tower.sock'));
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
  socket.write(`${JSON.stringify({ type: 'auth', token })}\n`);
  await new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk.toString();
      if (!text.includes('\n')) return;
      socket.off('data', onData);
      const reply = JSON.parse(text.split('\n')[0]);
      reply.ok ? resolve() : reject(new Error(`stalled client auth failed: ${text}`));
    };
    socket.on('data', onData);
  });
  socket.pause();
  return socket;
}

/** Resume the stalled socket and tally what it gets, through to the session's end. */
async function drainStalled(socket, ms = 120_000) {
  const tally = {
    outputBytes: 0,
    outputFrames: 0,
    snapshots: 0,
    snapshotOffset: null,
    closed: false,
    wireBytes: 0,
  };
  let rest = '';
  socket.on('data', (chunk) => {
    tally.wireBytes += chunk.length;
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      if (!line) continue;
      const m = JSON.parse(line);
      if (m.type === 'session_output') {
        tally.outputFrames++;
        tally.outputBytes += Buffer.byteLength(m.data, 'base64');
      } else if (m.type === 'snapshot') {
        tally.snapshots++;
        tally.snapshotOffset = m.offset;
      } else if (m.type === 'session_closed') tally.closed = true;
    }
  });
  socket.resume();
  const deadline = now() + ms;
  while (!tally.closed && now() < deadline) await sleep(50);
  socket.destroy();
  return tally;
}

async function stalledRun(daemon, client) {
  const stalled = await stalledClient(daemon.stateDir);
  await sleep(200);
  const rssBefore = daemon.rss();
  const sampler = sampleRss(daemon.pid, 100);
  const cpuBefore = threadCpu(daemon.pid).total;
  const t0 = now();
  const { sessionId } = await floodSession(client, BYTES);
  // The stalled client subscribes first (from the start), then the normal one.
  stalled.write(`${JSON.stringify({ type: 'subscribe', session_id: sessionId, from_offset: 0 })}\n`);
  const collector = collect(client, sessionId);
  await client.subscribe(sessionId, { fromOffset: 0 });
  await collector.done;
  const s = collector.stats();
  const ms = s.lastAt - t0;
  const { peak, samples } = sampler.stop();
  const daemonCpuMs = threadCpu(daemon.pid).total - cpuBefore;
  const drained = await drainStalled(stalled);
  await client.remove(sessionId);
  return {
    bytes: s.bytes,
    snapshots: s.snapshots,
    gaps: s.gaps,
    ms,
    mbps: s.bytes / MB / (ms / 1000),
    rssBefore,
    peak,
    samples,
    drained,
    daemonCpuMs,
  };
}

export async function run() {
  const daemon = await startDaemon();
  const alone = [];
  const withStall = [];
  try {
    const client = await daemon.connect();
    // Warm-up (not counted): the first 100 MB through a fresh daemon grows its heaps whatever the subscribers.
    await towerRead(daemon, client);
    for (let i = 0; i < REPS; i++) {
      await sleep(200);
      const rssBefore = daemon.rss();
      const sampler = sampleRss(daemon.pid, 100);
      const a = { ...(await towerRead(daemon, client)), rssBefore, peak: sampler.stop().peak };
      alone.push(a);
      log(
        `stalled: alone #${i + 1}: ${a.mbps.toFixed(1)} MB/s; daemon cpu ${a.cpu.total} ms; daemon rss ${(a.rssBefore / MiB).toFixed(1)} -> peak ${(a.peak / MiB).toFixed(1)} MiB`,
      );
      const s = await stalledRun(daemon, client);
      withStall.push(s);
      log(
        `stalled: with a stalled subscriber #${i + 1}: ${s.mbps.toFixed(1)} MB/s, ${s.bytes} bytes (snapshots ${s.snapshots}, gaps ${s.gaps});` +
          ` daemon cpu ${s.daemonCpuMs} ms;` +
          ` daemon rss ${(s.rssBefore / MiB).toFixed(1)} -> peak ${(s.peak / MiB).toFixed(1)} MiB (${s.samples} samples);` +
          ` stalled client later read ${s.drained.outputBytes} output bytes in ${s.drained.outputFrames} frames,` +
          ` ${s.drained.snapshots} snapshot(s) (at offset ${s.drained.snapshotOffset}), closed=${s.drained.closed}`,
      );
    }
  } finally {
    await daemon.stop();
  }
  const pairRatios = withStall.map((s, i) => s.mbps / alone[i].mbps);
  const growth = Math.max(...withStall.map((s) => s.peak - s.rssBefore));
  const growthAlone = Math.max(...alone.map((a) => a.peak - a.rssBefore));
  /** Bounded: the stalled subscriber costs less than 10 MiB over a run without it (the data is 100 MB). */
  const bounded = growth - growthAlone < 10 * MiB;
  const complete = withStall.every((s) => s.bytes >= alone[0].bytes && s.gaps === 0 && s.snapshots === 0);
  return {
    name: 'stalled',
    rows: [
      {
        figure: 'e. throughput with a stalled subscriber',
        value: median(withStall.map((s) => s.mbps)),
        unit: 'MB/s',
        reference: median(alone.map((a) => a.mbps)),
        referenceLabel: '(a) on the same daemon, interleaved',
        ratio: median(pairRatios),
        target: '>= 0.9x (a)',
        met: median(pairRatios) >= 0.9 && complete,
        note:
          (complete ? 'normal client got every byte' : 'NORMAL CLIENT MISSED BYTES') +
          `; pair ratios ${pairRatios.map((r) => r.toFixed(2)).join(' ')}; daemon CPU ${median(withStall.map((s) => s.daemonCpuMs))} vs ${median(alone.map((a) => a.cpu.total))} ms alone`,
      },
      {
        figure: 'e. daemon peak RSS growth during the run',
        value: growth / MiB,
        unit: 'MiB',
        reference: growthAlone / MiB,
        referenceLabel: 'same, run without the stalled client',
        ratio: null,
        target: 'bounded (< +10 MiB)',
        met: bounded,
        note: `RSS before ${(median(withStall.map((s) => s.rssBefore)) / MiB).toFixed(0)} MiB, peak ${(Math.max(...withStall.map((s) => s.peak)) / MiB).toFixed(0)} MiB; resumed, the stalled client caught up: ${withStall.map((s) => s.drained.outputBytes).join('/')} bytes, ${withStall.map((s) => s.drained.snapshots).join('/')} snapshots, ${withStall.every((s) => s.drained.closed) ? 'through to the end' : 'NOT to the end'}`,
      },
    ],
    details: { alone, withStall, pairRatios },
  };
}
