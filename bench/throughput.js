/**
 * (a) Throughput: 100 MB of printable lines through a session to one subscribed socket client,
 * from spawn to the client holding every byte, against a raw @lydell/node-pty read of the same program.
 * Also the CPU each side spends per 100 MB (per thread for the daemon), which is what decides throughput
 * on a 2-core machine, and diagnostics on an instrumented in-process daemon: how far the screen emulator
 * lags behind the journal, and the screen model bypassed; plus the CPU cost of the base64 + JSON framing
 * measured in isolation.
 */
import { join } from 'node:path';
import {
  busyShare,
  childrenCpu,
  collect,
  cpuDelta,
  flood,
  floodSession,
  instrumentedStats,
  log,
  MB,
  machineCpu,
  median,
  now,
  rawPtyRead,
  startDaemon,
  threadCpu,
} from './lib.js';

export const BYTES = 100_000_000;
const REPS = 4;
const DIAG_REPS = 2;
const DIAG_MODES = ['default', 'noscreen'];
const DIAG_LABEL = {
  default: 'production settings, instrumented',
  noscreen: 'screen emulator bypassed',
};

/** Daemon CPU split: main thread (tid = pid), the busiest other thread (the screen worker), programs run. */
export function splitCpu(cpu, pid) {
  const threads = Object.entries(cpu).filter(([k]) => k.includes(':'));
  const main = threads.find(([k]) => k.startsWith(`${pid}:`))?.[1] ?? 0;
  const worker = threads.find(([k]) => !k.startsWith(`${pid}:`))?.[1] ?? 0;
  return { total: cpu.total, main, worker, other: cpu.total - main - worker, programs: cpu.children };
}

/** One 100 MB run through the daemon; resolves with bytes received and MB/s from spawn to the last byte. */
export async function towerRead(daemon, client, bytes = BYTES) {
  const cpuBefore = threadCpu(daemon.pid);
  const clientCpu = process.cpuUsage();
  const machine = machineCpu();
  const t0 = now();
  const { sessionId } = await floodSession(client, bytes);
  const collector = collect(client, sessionId);
  // From offset 0: the program is already writing by the time the subscribe arrives.
  await client.subscribe(sessionId, { fromOffset: 0 });
  const { closedAt } = await collector.done;
  const s = collector.stats();
  const ms = s.lastAt - t0;
  const cpu = splitCpu(cpuDelta(cpuBefore, threadCpu(daemon.pid)), daemon.pid);
  const used = process.cpuUsage(clientCpu);
  const machineBusy = busyShare(machine, machineCpu());
  await client.remove(sessionId);
  return {
    bytes: s.bytes,
    frames: s.frames,
    snapshots: s.snapshots,
    gaps: s.gaps,
    ms,
    closedMs: closedAt - t0,
    mbps: s.bytes / MB / (ms / 1000),
    cpu,
    clientCpuMs: (used.user + used.system) / 1000,
    machineBusy,
  };
}

/** The raw node-pty reference for (a): MB/s, reader CPU and the program's CPU. */
export async function rawRun(bytes = BYTES) {
  const cpu = process.cpuUsage();
  const children = childrenCpu();
  const machine = machineCpu();
  const r = await rawPtyRead(flood(bytes));
  const used = process.cpuUsage(cpu);
  return {
    ...r,
    mbps: r.bytes / MB / (r.ms / 1000),
    readerCpuMs: (used.user + used.system) / 1000,
    programCpuMs: childrenCpu() - children,
    machineBusy: busyShare(machine, machineCpu()),
  };
}

/** base64 + JSON framing of 100 MB in 4 KiB frames (what the daemon sends today) and in 64 KiB frames. */
function framingCost(bytes = BYTES) {
  const result = {};
  for (const frameBytes of [4096, 65536]) {
    const frame = Buffer.alloc(frameBytes, 'x');
    const frames = Math.ceil(bytes / frame.length);
    let t = now();
    let line = '';
    for (let i = 0; i < frames; i++) {
      line = `${JSON.stringify({ type: 'session_output', session_id: 'abcd1234', data: frame.toString('base64'), offset: i * frameBytes })}\n`;
    }
    const encodeMs = now() - t;
    const wire = Buffer.from(line);
    t = now();
    for (let i = 0; i < frames; i++) {
      const message = JSON.parse(wire.toString('utf8'));
      Buffer.from(message.data, 'base64');
    }
    result[frameBytes] = { encodeMs, decodeMs: now() - t, wireBytesPerByte: wire.length / frameBytes };
  }
  return result;
}

async function instrumented(mode) {
  const daemon = await startDaemon({
    script: join(import.meta.dirname, 'instrumented-daemon.js'),
    args: [mode],
  });
  try {
    const client = await daemon.connect();
    const r = await towerRead(daemon, client);
    return { ...r, stats: await instrumentedStats(daemon) };
  } finally {
    await daemon.stop();
  }
}

const cpuText = (t) =>
  `daemon cpu ${t.cpu.total} ms (main ${t.cpu.main}, screen worker ${t.cpu.worker}, other ${t.cpu.other});` +
  ` program ${t.cpu.programs} ms; client ${t.clientCpuMs.toFixed(0)} ms`;

export async function run() {
  const raw = [];
  const tower = [];
  const daemon = await startDaemon();
  try {
    const client = await daemon.connect();
    for (let i = 0; i < REPS; i++) {
      const r = await rawRun();
      raw.push(r);
      log(
        `throughput raw #${i + 1}: ${r.mbps.toFixed(1)} MB/s, ${r.bytes} bytes in ${r.ms.toFixed(0)} ms, ${r.events} reads;` +
          ` reader cpu ${r.readerCpuMs.toFixed(0)} ms; program (sh, yes, head) ${r.programCpuMs} ms; machine busy ${(r.machineBusy * 100).toFixed(0)}%`,
      );
      const t = await towerRead(daemon, client);
      tower.push(t);
      log(
        `throughput tower #${i + 1}: ${t.mbps.toFixed(1)} MB/s, ${t.bytes} bytes in ${t.ms.toFixed(0)} ms` +
          ` (${t.frames} frames, snapshots ${t.snapshots}, gaps ${t.gaps}); ${cpuText(t)}; machine busy ${(t.machineBusy * 100).toFixed(0)}%`,
      );
    }
  } finally {
    await daemon.stop();
  }
  const rawMbps = median(raw.map((r) => r.mbps));
  const towerMbps = median(tower.map((r) => r.mbps));
  const pairRatios = tower.map((t, i) => t.mbps / raw[i].mbps);
  const rawBytes = Math.max(...raw.map((r) => r.bytes));
  const complete = tower.every((t) => t.bytes >= rawBytes && t.gaps === 0 && t.snapshots === 0);

  // CPU per 100 MB, and the best a 2-core machine could do if nothing else ran and every stage overlapped.
  const cpuOf = (key) => median(tower.map((t) => t.cpu[key]));
  const clientMs = median(tower.map((t) => t.clientCpuMs));
  const towerPathMs = median(tower.map((t) => t.cpu.total + t.clientCpuMs));
  const rawReaderMs = median(raw.map((r) => r.readerCpuMs));
  const programMs = median(raw.map((r) => r.programCpuMs));
  const cores = 2;
  const ceilingMbps = (cores * (BYTES / MB)) / ((towerPathMs + programMs) / 1000);
  const workerCeilingMbps = BYTES / MB / (cpuOf('worker') / 1000);

  log('throughput diagnostics: instrumented in-process daemon');
  const runs = Object.fromEntries(DIAG_MODES.map((mode) => [mode, []]));
  for (let rep = 0; rep < DIAG_REPS; rep++) {
    for (const mode of DIAG_MODES) {
      const refRaw = await rawRun();
      const d = await instrumented(mode);
      runs[mode].push({ ...d, rawMbps: refRaw.mbps, ratio: d.mbps / refRaw.mbps });
      log(
        `  ${mode}: ${d.mbps.toFixed(1)} MB/s (raw ${refRaw.mbps.toFixed(1)}, ratio ${(d.mbps / refRaw.mbps).toFixed(2)});` +
          ` PTY pauses ${d.stats?.pauses} for ${d.stats?.pausedMs} ms, max emulator lag ${((d.stats?.maxLagBytes ?? 0) / 1048576).toFixed(1)} MiB;` +
          ` pty reads ${d.stats?.reads}, journal appends ${d.stats?.appends}, worker posts ${d.stats?.workerPosts},` +
          ` client frames ${d.frames}; ${cpuText(d)}`,
      );
    }
  }
  // Per mode: medians over its runs.
  const diag = {};
  for (const mode of DIAG_MODES) {
    const r = runs[mode];
    const m = (f) => median(r.map(f));
    diag[mode] = {
      mbps: m((x) => x.mbps),
      rawMbps: m((x) => x.rawMbps),
      ratio: m((x) => x.ratio),
      ratios: r.map((x) => x.ratio),
      frames: m((x) => x.frames),
      pauses: r.map((x) => x.stats?.pauses).join('/'),
      pausedMs: r.map((x) => x.stats?.pausedMs).join('/'),
      programMs: m((x) => x.cpu.programs),
      cpu: { total: m((x) => x.cpu.total), main: m((x) => x.cpu.main), worker: m((x) => x.cpu.worker) },
      clientCpuMs: m((x) => x.clientCpuMs),
    };
  }
  const diagCeiling = (d) => (cores * (BYTES / MB)) / ((d.cpu.total + d.clientCpuMs + programMs) / 1000);
  const framing = framingCost();
  log(
    `  framing of 100 MB in this process: 4 KiB frames encode ${framing[4096].encodeMs.toFixed(0)} + decode ${framing[4096].decodeMs.toFixed(0)} ms;` +
      ` 64 KiB frames encode ${framing[65536].encodeMs.toFixed(0)} + decode ${framing[65536].decodeMs.toFixed(0)} ms;` +
      ` ${framing[65536].wireBytesPerByte.toFixed(3)} wire bytes per output byte`,
  );

  return {
    name: 'throughput',
    rows: [
      {
        figure: 'a. throughput, 100 MB to one client',
        value: towerMbps,
        unit: 'MB/s',
        reference: rawMbps,
        referenceLabel: 'raw node-pty read',
        ratio: median(pairRatios),
        target: '>= 0.8x raw',
        met: median(pairRatios) >= 0.8 && complete,
        note: complete
          ? `all ${rawBytes} bytes, no gaps/resyncs; pair ratios ${pairRatios.map((r) => r.toFixed(2)).join(' ')}; machine busy ${(median(tower.map((t) => t.machineBusy)) * 100).toFixed(0)}%`
          : 'BYTES MISSING',
      },
      {
        figure: '   CPU per 100 MB: daemon (all threads) + client',
        value: towerPathMs,
        unit: 'core-ms',
        reference: rawReaderMs,
        referenceLabel: 'raw node-pty reader',
        ratio: towerPathMs / rawReaderMs,
        target: '(context)',
        met: null,
        note:
          `main ${cpuOf('main')}, screen worker ${cpuOf('worker')}, other ${cpuOf('other')}, client ${clientMs.toFixed(0)};` +
          ` the program itself ${programMs} ms. 2-core ceiling ${ceilingMbps.toFixed(0)} MB/s` +
          ` (${(ceilingMbps / rawMbps).toFixed(2)}x raw); worker alone caps at ${workerCeilingMbps.toFixed(0)} MB/s`,
      },
      ...DIAG_MODES.map((mode) => ({
        figure: `   diag: ${DIAG_LABEL[mode]}`,
        value: diag[mode].mbps,
        unit: 'MB/s',
        reference: diag[mode].rawMbps,
        referenceLabel: 'raw node-pty read',
        ratio: diag[mode].ratio,
        target: '(diagnostic)',
        met: null,
        note:
          `ratios ${diag[mode].ratios.map((r) => r.toFixed(2)).join(' ')}; PTY pauses ${diag[mode].pauses} (${diag[mode].pausedMs} ms); ${diag[mode].frames.toFixed(0)} frames;` +
          ` CPU daemon ${diag[mode].cpu.total.toFixed(0)} (main ${diag[mode].cpu.main.toFixed(0)}, worker ${diag[mode].cpu.worker.toFixed(0)}) + client ${diag[mode].clientCpuMs.toFixed(0)} ms;` +
          ` 2-core ceiling ${(diagCeiling(diag[mode]) / diag[mode].rawMbps).toFixed(2)}x raw`,
      })),
    ],
    details: { raw, tower, pairRatios, ceilingMbps, workerCeilingMbps, diag: runs, framing },
  };
}
