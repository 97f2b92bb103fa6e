/**
 * Diagnostics only: the real session host (dist/server/host.js) started in-process, with counters
 * the production build does not expose. Usage: node bench/instrumented-daemon.js STATE_DIR MODE
 *   default   – production settings; counts PTY pauses and how far the screen emulator lags
 *   noscreen  – bytes are not sent to the screen worker at all (reported as parsed at once)
 * After each session exits it prints one line: `STATS {json}`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LineSplitter } from '../dist/protocol/ndjson.js';
import { startHost } from '../dist/server/host.js';

const [stateDir, mode = 'default'] = process.argv.slice(2);

const daemon = await startHost({ stateDir });
const { manager } = daemon;

const screen = manager.screen;
if (mode === 'noscreen') {
  // The screen feed posts through screen.write(): report every byte as parsed at once.
  screen.write = (id, _data, endOffset) => screen.onParsed(id, endOffset);
}
// Input path: when did the socket bytes of the latest request arrive (every connection splits lines here)?
let lastSocketChunkAt = 0;
const push = LineSplitter.prototype.push;
LineSplitter.prototype.push = function (chunk) {
  lastSocketChunkAt = performance.now();
  return push.call(this, chunk);
};

let posts = 0;
const worker = screen.worker;
const postMessage = worker.postMessage.bind(worker);
worker.postMessage = (...args) => {
  posts++;
  return postMessage(...args);
};

function quantiles(values) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const at = (p) => Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(3));
  return { n: values.length, p50: at(0.5), p99: at(0.99), max: Number(sorted[sorted.length - 1].toFixed(3)) };
}

const create = manager.create.bind(manager);
manager.create = async (options) => {
  const session = await create(options);
  const pty = session.pty;
  const stats = {
    mode,
    pauses: 0,
    pausedMs: 0,
    maxLagBytes: 0,
    bytes: 0,
    reads: 0,
    appends: 0,
    workerPosts: 0,
    spanMs: 0,
  };
  /** Output path: ms from the PTY read of a flush's first chunk to the end of that flush (journal, screen, sockets). */
  const residence = [];
  const appendMs = [];
  /** ms from a request's bytes arriving on the socket to its write reaching the PTY. */
  const inputMs = [];
  const write = session.write.bind(session);
  session.write = (data) => {
    if (inputMs.length < 200_000) inputMs.push(performance.now() - lastSocketChunkAt);
    return write(data);
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const t0 = performance.now();
  const posts0 = posts;
  let firstPendingAt = 0;

  const flush = session.flush.bind(session);
  session.flush = () => {
    const had = session.pendingBytes > 0;
    flush();
    const end = performance.now();
    if (had && residence.length < 200_000) residence.push(end - firstPendingAt);
  };
  const receive = session.receive.bind(session);
  session.receive = (chunk) => {
    stats.reads++;
    if (session.pendingBytes === 0) firstPendingAt = performance.now();
    return receive(chunk);
  };
  const append = session.journal.append.bind(session.journal);
  session.journal.append = (data) => {
    stats.appends++;
    const a = performance.now();
    const offset = append(data);
    if (appendMs.length < 200_000) appendMs.push(performance.now() - a);
    return offset;
  };
  const pause = pty.pause;
  const resume = pty.resume;
  let pausedAt = 0;
  pty.pause = () => {
    stats.pauses++;
    pausedAt = performance.now();
    pause();
  };
  pty.resume = () => {
    stats.pausedMs += performance.now() - pausedAt;
    pausedAt = 0;
    resume();
  };
  const lagTimer = setInterval(() => {
    stats.maxLagBytes = Math.max(stats.maxLagBytes, session.screenLag);
  }, 2);
  session.on('output', () => {
    stats.bytes = session.journal.end;
    stats.maxLagBytes = Math.max(stats.maxLagBytes, session.screenLag);
  });
  session.on('exit', () => {
    clearInterval(lagTimer);
    loopDelay.disable();
    if (pausedAt) stats.pausedMs += performance.now() - pausedAt;
    stats.spanMs = Math.round(performance.now() - t0);
    stats.pausedMs = Math.round(stats.pausedMs);
    stats.workerPosts = posts - posts0;
    stats.residenceMs = quantiles(residence);
    stats.inputMs = quantiles(inputMs);
    stats.appendMs = quantiles(appendMs);
    stats.loopDelayMs = {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
  });
  return session;
};

process.stdout.write(`Tower daemon (instrumented, ${mode}) listening on ${daemon.socketPath}\n`);
const stop = () => daemon.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
