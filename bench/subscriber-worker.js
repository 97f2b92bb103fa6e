/**
 * One subscriber of (h), in a worker thread of its own: its own connection to the daemon, reading at full
 * speed. For each session it is given it subscribes from offset 0 and checks every byte against what the
 * program writes (the flood's line and CR LF, repeated), then reports its count, time and checks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TowerClient } from '../dist/client/client.js';

/** What the flood looks like through the PTY: the line, CR LF, again and again. */
const PERIOD = Buffer.from(`${workerData.line}\r\n`, 'latin1');
/** Long enough that any frame (256 KiB at most) is one comparison against a slice of it. */
const PATTERN = Buffer.concat(Array.from({ length: Math.ceil((1024 * 1024) / PERIOD.length) }, () => PERIOD));
const clock = () => performance.timeOrigin + performance.now();

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
  let bytes = 0;
  let frames = 0;
  let snapshots = 0;
  let gaps = 0;
  let mismatches = 0;
  let next = 0;
  let lastAt = 0;
  const done = new Promise((resolve) => {
    const onOutput = (event) => {
      if (event.sessionId !== sessionId) return;
      if (event.offset !== next) gaps++;
      if (!matches(event.offset ?? next, event.data)) mismatches++;
      next = (event.offset ?? next) + event.data.length;
      bytes += event.data.length;
      frames++;
      lastAt = clock();
    };
    const onSnapshot = (event) => {
      if (event.session_id !== sessionId) return;
      snapshots++;
      next = event.offset;
    };
    const onClosed = (event) => {
      if (event.sessionId !== sessionId) return;
      client.off('output', onOutput);
      client.off('snapshot', onSnapshot);
      client.off('closed', onClosed);
      resolve();
    };
    client.on('output', onOutput);
    client.on('snapshot', onSnapshot);
    client.on('closed', onClosed);
  });
  await client.subscribe(sessionId, { fromOffset: 0 });
  await done;
  parentPort.postMessage({ bytes, frames, snapshots, gaps, mismatches, lastAt });
});

parentPort.postMessage({ ready: true });
