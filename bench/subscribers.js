/**
 * (h) Several subscribers at full speed: (a)'s 100 MB program watched by 4 socket clients at once, each in a
 * worker thread of its own with its own connection (bench/subscriber-worker.js), against a raw node-pty read
 * of the same program in the same round, and beside one such client alone. A subscriber's MB/s runs from
 * create_session to its last byte; each checks every byte: the count, contiguous offsets from 0, no snapshot,
 * and the content against what the program writes.
 */
import { Worker } from 'node:worker_threads';
import {
  busyShare,
  cpuDelta,
  floodSession,
  LINE,
  log,
  MB,
  machineCpu,
  median,
  startDaemon,
  threadCpu,
} from './lib.js';
import { BYTES, rawRun, splitCpu } from './throughput.js';

const SUBSCRIBERS = 4;
const REPS = 3;
const TARGET = 0.7;
const PRINTED = LINE.slice(0, 79);
/** The PTY turns each line's \n into \r\n. */
const EXPECTED_BYTES = (BYTES / (PRINTED.length + 1)) * (PRINTED.length + 2);
const clock = () => performance.timeOrigin + performance.now();

export function startWorker(stateDir) {
  const worker = new Worker(new URL('./subscriber-worker.js', import.meta.url), {
    workerData: { stateDir, line: PRINTED },
  });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => {
      worker.off('error', reject);
      resolve(worker);
    });
  });
}

/** One subscriber's run of one session: what it got, and when its last byte came. */
function watch(worker, sessionId) {
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (result) => {
      worker.off('error', reject);
      resolve(result);
    });
    worker.postMessage({ sessionId });
  });
}

const complete = (r) => r.bytes === EXPECTED_BYTES && r.gaps === 0 && r.snapshots === 0 && r.mismatches === 0;

/** 100 MB through the daemon to `workers` at once. */
export async function towerRun(daemon, client, workers) {
  const cpuBefore = threadCpu(daemon.pid);
  const benchCpu = process.cpuUsage();
  const machine = machineCpu();
  const t0 = clock();
  const { sessionId } = await floodSession(client, BYTES);
  const results = await Promise.all(workers.map((worker) => watch(worker, sessionId)));
  const cpu = splitCpu(cpuDelta(cpuBefore, threadCpu(daemon.pid)), daemon.pid);
  const used = process.cpuUsage(benchCpu);
  const machineBusy = busyShare(machine, machineCpu());
  await client.remove(sessionId);
  return {
    subscribers: results.map((r) => ({
      ...r,
      ms: r.lastAt - t0,
      mbps: r.bytes / MB / ((r.lastAt - t0) / 1000),
    })),
    cpu,
    clientsCpuMs: (used.user + used.system) / 1000,
    machineBusy,
  };
}

const describe = (run) =>
  run.subscribers
    .map(
      (s) =>
        `${s.mbps.toFixed(1)} MB/s${complete(s) ? '' : ` (${s.bytes} bytes, gaps ${s.gaps}, snapshots ${s.snapshots}, mismatched frames ${s.mismatches})`}`,
    )
    .join(', ') +
  `; daemon cpu ${run.cpu.total} ms (main ${run.cpu.main}, screen worker ${run.cpu.worker}); clients ${run.clientsCpuMs.toFixed(0)} ms;` +
  ` machine busy ${(run.machineBusy * 100).toFixed(0)}%`;

export async function run() {
  const daemon = await startDaemon();
  const workers = [];
  const rounds = [];
  try {
    const client = await daemon.connect();
    for (let i = 0; i < SUBSCRIBERS; i++) workers.push(await startWorker(daemon.stateDir));
    for (let i = 0; i < REPS; i++) {
      const raw = await rawRun();
      log(`subscribers raw #${i + 1}: ${raw.mbps.toFixed(1)} MB/s, ${raw.bytes} bytes`);
      const one = await towerRun(daemon, client, workers.slice(0, 1));
      log(`subscribers 1 #${i + 1}: ${describe(one)}`);
      const many = await towerRun(daemon, client, workers);
      log(`subscribers ${SUBSCRIBERS} #${i + 1}: ${describe(many)}`);
      rounds.push({ raw, one, many });
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
    await daemon.stop();
  }

  const rawMbps = median(rounds.map((r) => r.raw.mbps));
  const ratios = (pick) => rounds.map((r) => pick(r).mbps / r.raw.mbps);
  const allComplete = (pick) => rounds.every((r) => complete(pick(r)));
  const row = (figure, pick) => {
    const rs = ratios(pick);
    const whole = allComplete(pick);
    return {
      figure,
      value: median(rounds.map((r) => pick(r).mbps)),
      unit: 'MB/s',
      reference: rawMbps,
      referenceLabel: 'raw node-pty read',
      ratio: median(rs),
      target: `>= ${TARGET}x raw, every byte`,
      met: median(rs) >= TARGET && whole,
      note: whole
        ? `all ${EXPECTED_BYTES} bytes, content checked, no gap/snapshot in ${rounds.length} of ${rounds.length} rounds; ratios ${rs.map((x) => x.toFixed(2)).join(' ')}`
        : `BYTES MISSING or wrong in ${rounds.filter((r) => !complete(pick(r))).length} of ${rounds.length} rounds; ratios ${rs.map((x) => x.toFixed(2)).join(' ')}`,
    };
  };
  const cpuNote = (pick) => {
    const m = (f) => median(rounds.map((r) => f(pick(r)))).toFixed(0);
    return `daemon ${m((x) => x.cpu.total)} (main ${m((x) => x.cpu.main)}, screen worker ${m((x) => x.cpu.worker)}), clients ${m((x) => x.clientsCpuMs)}`;
  };
  return {
    name: 'subscribers',
    rows: [
      ...Array.from({ length: SUBSCRIBERS }, (_, k) =>
        row(`h. ${SUBSCRIBERS} subscribers at once, #${k + 1}`, (r) => r.many.subscribers[k]),
      ),
      row('   one subscriber alone (same rounds)', (r) => r.one.subscribers[0]),
      {
        figure: `   CPU per 100 MB: ${SUBSCRIBERS} subscribers / one`,
        value: median(rounds.map((r) => r.many.cpu.total + r.many.clientsCpuMs)),
        unit: 'core-ms',
        reference: median(rounds.map((r) => r.one.cpu.total + r.one.clientsCpuMs)),
        referenceLabel: 'one subscriber',
        ratio: null,
        target: '(context)',
        met: null,
        note: `${SUBSCRIBERS}: ${cpuNote((r) => r.many)}; one: ${cpuNote((r) => r.one)}; raw reader ${median(rounds.map((r) => r.raw.readerCpuMs)).toFixed(0)}`,
      },
    ],
    details: { expectedBytes: EXPECTED_BYTES, rounds },
  };
}
