/**
 * One subscriber of (h), in a worker thread of its own: its own connection to the daemon, reading at full
 * speed. For each session it is given it subscribes from offset 0 and checks every byte against what the
 * program writes (the flood's line and CR LF, repeated), then reports its count, time and checks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TowerClient } from '../dist/client/client.js';
import { collect } from './lib.js';

/** What the flood looks like through the PTY: the line, CR LF, again and again. */
const PERIOD = Buffer.from(`${workerData.line}\r\n`, 'latin1');
/** Long enough that any frame (256 KiB at most) is one comparison against a slice of it. */
const PATTERN = Buffer.concat(Array.from({ length: Math.ceil((1024 * 1024) / PERIOD.length) }, () => PERIOD));

/** Whether `data` is what the flood holds at `offset`. */
function matches(offset, data) {
  for (let at = 0; at < data.length; ) {
    const start = (offset + at) % PERIOD.length;
    const take = Math.min(data.length - at, PATTERN.length - start);
    if (data.compare(PATTERN, start, start + take, at, at + take) !== 0) return false;
    at += take;
  }
  return true;
}

const client = await TowerClient.connect({ stateDir: workerData.stateDir });

parentPort.on('message', async ({ sessionId }) => {
  let mismatches = 0;
  let first;
  const collector = collect(client, sessionId, {
    onOutput: (event) => {
      first ??= event.offset;
      if (event.offset === undefined || !matches(event.offset, event.data)) mismatches++;
    },
  });
  await client.subscribe(sessionId, { fromOffset: 0 });
  await collector.done;
  const s = collector.stats();
  // Offsets must run on from 0: a first frame elsewhere counts as a gap too.
  const gaps = s.gaps + (first === 0 ? 0 : 1);
  // performance.now() counts from this thread's start: the main thread compares absolute times.
  parentPort.postMessage({ ...s, gaps, mismatches, lastAt: performance.timeOrigin + s.lastAt });
});

parentPort.postMessage({ ready: true });
