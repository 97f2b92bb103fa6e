/**
 * (f) Web transports: the same daemon (`tower serve --port 0`) delivering 100 MB of printable output to
 * a socket client (as in (a)), to a WebSocket client on /ws/terminal/:id (binary frames, an `ack` per
 * frame sent at once, as a fast browser would) and to an SSE client on /api/sessions/:id/stream (fetch
 * and a stream reader, counting the `bytes` of each `output` event), against a raw @lydell/node-pty
 * read of the same program in the same run. The four alternate in rounds, and every ratio is the median
 * of per-round ratios. Then keystroke echo through `cat` over the WebSocket and over the socket client,
 * alternating in blocks with the raw node-pty echo.
 */
import WebSocket from 'ws';
import {
  cpuDelta,
  createEchoSession,
  ECHO_PROGRAM,
  floodSession,
  log,
  MB,
  median,
  now,
  outputWaiter,
  percentile,
  rawPtyEcho,
  startDaemon,
  subscribeEcho,
  threadCpu,
  timeEchoes,
} from './lib.js';
import { BYTES, rawRun, towerRead } from './throughput.js';

const ROUNDS = 4;
const ECHO_ROUNDS = 1000;
const ECHO_BLOCKS = 10;
const WARMUP = 50;
/** A transfer that has not finished by then has hung: fail instead of waiting forever. */
const TIMEOUT_MS = 60_000;
const VARIANTS = ['raw', 'socket', 'ws', 'sse'];
const LABEL = { raw: 'raw node-pty', socket: 'socket client', ws: 'WebSocket', sse: 'SSE' };

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no end after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * An authenticated WebSocket on /ws/terminal/:id from `offset`, its listeners on from the start
 * (`onMessage(data, isBinary, ws)`, `onClose(code)`); resolves once it is open. Listeners added after
 * awaiting 'open' would miss frames: a client slow to read gets the 101 response and the first frames
 * in one read, and `ws` emits those frames before anything awaiting 'open' runs.
 */
async function openTerminal(daemon, sessionId, offset, { onMessage, onClose = () => {} }) {
  const base = daemon.webUrl.replace(/^http/, 'ws');
  const ws = new WebSocket(`${base}/ws/terminal/${encodeURIComponent(sessionId)}?offset=${offset}`, {
    headers: { Authorization: `Bearer ${daemon.token}` },
  });
  ws.on('message', (data, isBinary) => onMessage(data, isBinary, ws));
  ws.once('close', onClose);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

/** What the daemon process (socket server, HTTP layer, screen worker) and this process spent. */
function cpuMeter(daemon) {
  const daemonBefore = threadCpu(daemon.pid);
  const clientBefore = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(clientBefore);
    return {
      daemonCpuMs: cpuDelta(daemonBefore, threadCpu(daemon.pid)).total,
      clientCpuMs: (used.user + used.system) / 1000,
    };
  };
}

/**
 * 100 MB to a WebSocket client: time from create_session to the last byte of the last binary frame.
 * `via`: the Tower whose WebSocket is read (another one relays `prefix + id`: see federation.js).
 */
export async function wsRead(daemon, client, via = daemon, prefix = '') {
  const cpu = cpuMeter(daemon);
  const t0 = now();
  const { sessionId } = await floodSession(client, BYTES);
  let bytes = 0;
  let frames = 0;
  let gaps = 0;
  let snapshots = 0;
  let skipped = 0;
  let next = 0;
  let lastAt = t0;
  const errors = [];
  let exit;
  const exited = new Promise((resolve, reject) => {
    exit = { resolve, reject };
  });
  const onMessage = (data, isBinary, socket) => {
    if (isBinary) {
      const offset = Number(data.readBigUInt64BE(0));
      const length = data.length - 8;
      if (offset !== next) gaps++;
      next = offset + length;
      bytes += length;
      frames++;
      lastAt = now();
      // A browser ACKs from xterm.js's write callback; a fast one renders at once.
      socket.send(`{"type":"ack","offset":${next}}`);
      return;
    }
    const message = JSON.parse(data.toString());
    if (message.type === 'exit') exit.resolve();
    else if (message.type === 'snapshot') {
      // Fell out of the daemon's ring: the bridge resyncs with a screen snapshot and goes on from there.
      snapshots++;
      skipped += message.offset - next;
      next = message.offset;
    } else if (message.type === 'error') errors.push(message.error);
  };
  const onClose = (code) => exit.reject(new Error(`WebSocket closed (${code}) before the exit message`));
  const ws = await openTerminal(via, prefix + sessionId, 0, { onMessage, onClose });
  await withTimeout(exited, 'WebSocket read');
  const used = cpu();
  ws.close();
  await client.remove(sessionId);
  const ms = lastAt - t0;
  return { bytes, frames, gaps, snapshots, skipped, errors, ms, mbps: bytes / MB / (ms / 1000), ...used };
}

/**
 * 100 MB to an SSE client: fetch, a stream reader, a streaming UTF-8 decoder, and JSON.parse of each
 * `output` event, counting its `bytes`. The stream stays open after the program exits, so the end is the
 * session's last_offset, which the watcher connection learns from the `exited` session event.
 */
async function sseRead(daemon, client, watcher) {
  const cpu = cpuMeter(daemon);
  const t0 = now();
  const { sessionId } = await floodSession(client, BYTES);
  const lastOffset = watcher.exitOffset(sessionId);
  const response = await fetch(`${daemon.webUrl}/api/sessions/${sessionId}/stream?offset=0`, {
    headers: { Authorization: `Bearer ${daemon.token}`, Accept: 'text/event-stream' },
  });
  if (!response.ok) throw new Error(`SSE stream: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let bytes = 0;
  let events = 0;
  let gaps = 0;
  let next = 0;
  let wireBytes = 0;
  let lastAt = t0;
  const errors = [];
  let end = null;
  lastOffset.then((offset) => {
    end = offset;
    if (next >= end) reader.cancel().catch(() => {});
  });
  const read = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      wireBytes += value.length;
      pending += decoder.decode(value, { stream: true });
      let cut = pending.indexOf('\n\n');
      let from = 0;
      while (cut !== -1) {
        const block = pending.slice(from, cut);
        from = cut + 2;
        cut = pending.indexOf('\n\n', from);
        const eventAt = block.indexOf('event: ');
        const dataAt = block.indexOf('\ndata: ');
        if (eventAt === -1 || dataAt === -1) continue; // a comment (keepalive)
        const name = block.slice(eventAt + 7, block.indexOf('\n', eventAt));
        const data = JSON.parse(block.slice(dataAt + 7));
        if (name === 'output') {
          if (data.offset - data.bytes !== next) gaps++;
          next = data.offset;
          bytes += data.bytes;
          events++;
          lastAt = now();
        } else if (name === 'error') errors.push(data.message);
      }
      pending = pending.slice(from);
      if (end !== null && next >= end) {
        await reader.cancel();
        return;
      }
    }
  };
  await withTimeout(read(), 'SSE read');
  const used = cpu();
  await client.remove(sessionId);
  const ms = lastAt - t0;
  return { bytes, events, gaps, errors, wireBytes, ms, mbps: bytes / MB / (ms / 1000), ...used };
}

/** A connection that watches session events and tells when a session exited, with its last offset. */
async function exitWatcher(daemon) {
  const watcher = await daemon.connect();
  await watcher.watch();
  const exited = new Map();
  const waiting = new Map();
  watcher.on('session_event', ({ event, session }) => {
    if (event !== 'exited') return;
    exited.set(session.id, session.last_offset);
    waiting.get(session.id)?.(session.last_offset);
  });
  return {
    exitOffset: (id) =>
      exited.has(id) ? Promise.resolve(exited.get(id)) : new Promise((r) => waiting.set(id, r)),
  };
}

// ---------------------------------------------------------------- echo

/** `cat` in a session, echoed to the socket client; the keystroke goes as write_input without ack. */
async function socketEcho(daemon) {
  const client = await daemon.connect();
  const sessionId = await createEchoSession(client);
  const output = await subscribeEcho(client, sessionId);
  return {
    async echo(rounds) {
      return timeEchoes(rounds, output.waitFor, (byte) => client.input(sessionId, byte));
    },
    close: () => client.close(sessionId),
  };
}

/** `cat` in a session, through a WebSocket: `input{seq,data}` out, the byte back in a binary frame. */
export async function wsEcho(daemon, client, via = daemon, prefix = '') {
  const sessionId = await createEchoSession(client);
  const output = outputWaiter();
  const ready = output.waitFor('READY');
  const ws = await openTerminal(via, prefix + sessionId, 0, {
    onMessage: (data, isBinary, socket) => {
      if (!isBinary) return; // hello, input_ack
      const end = Number(data.readBigUInt64BE(0)) + data.length - 8;
      output.feed(data.toString('latin1', 8));
      socket.send(`{"type":"ack","offset":${end}}`);
    },
  });
  await withTimeout(ready, 'WebSocket echo READY');
  output.reset();
  let seq = 0;
  return {
    async echo(rounds) {
      return timeEchoes(rounds, output.waitFor, (byte) => {
        seq++;
        ws.send(`{"type":"input","seq":${seq},"data":"${byte}"}`);
      });
    },
    async close() {
      ws.close();
      await client.close(sessionId);
    },
  };
}

export function summary(samples) {
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
    n: samples.length,
  };
}

// ---------------------------------------------------------------- run

const cpuNote = (runs) =>
  `daemon ${median(runs.map((r) => r.daemonCpuMs)).toFixed(0)} + client ${median(runs.map((r) => r.clientCpuMs)).toFixed(0)} core-ms per 100 MB`;

export async function run() {
  const daemon = await startDaemon();
  if (!daemon.webUrl) {
    await daemon.stop();
    throw new Error('the daemon printed no web workspace URL');
  }
  const runs = { raw: [], socket: [], ws: [], sse: [] };
  const echo = { raw: [], socket: [], ws: [] };
  try {
    const client = await daemon.connect();
    const watcher = await exitWatcher(daemon);
    const readers = {
      raw: () => rawRun(),
      socket: async () => {
        const t = await towerRead(daemon, client);
        return { ...t, daemonCpuMs: t.cpu.total };
      },
      ws: () => wsRead(daemon, client),
      sse: () => sseRead(daemon, client, watcher),
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no variant always runs first (or right after the same one).
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
      for (const variant of order) {
        const r = await readers[variant]();
        runs[variant].push(r);
        const extra =
          variant === 'raw'
            ? `reader cpu ${r.readerCpuMs.toFixed(0)} ms`
            : `${r.frames ?? r.events} ${variant === 'sse' ? 'events' : 'frames'}, gaps ${r.gaps}, snapshots ${r.snapshots ?? 0}${r.skipped ? ` (${r.skipped} bytes skipped)` : ''}` +
              `${r.errors?.length ? `, errors ${r.errors.join(',')}` : ''}; daemon cpu ${r.daemonCpuMs} ms, client ${r.clientCpuMs.toFixed(0)} ms` +
              (variant === 'sse' ? `; ${(r.wireBytes / r.bytes).toFixed(3)} wire bytes per output byte` : '');
        log(
          `web round ${round + 1}/${ROUNDS} ${LABEL[variant]}: ${r.mbps.toFixed(1)} MB/s, ${r.bytes} bytes in ${r.ms.toFixed(0)} ms; ${extra}`,
        );
      }
    }

    const socketSession = await socketEcho(daemon);
    const wsSession = await wsEcho(daemon, client);
    await socketSession.echo(WARMUP);
    await wsSession.echo(WARMUP);
    const perBlock = ECHO_ROUNDS / ECHO_BLOCKS;
    const echoers = {
      raw: async () => (await rawPtyEcho(ECHO_PROGRAM, perBlock + WARMUP, 'READY')).slice(WARMUP),
      socket: () => socketSession.echo(perBlock),
      ws: () => wsSession.echo(perBlock),
    };
    const echoOrder = Object.keys(echoers);
    for (let b = 0; b < ECHO_BLOCKS; b++) {
      const order = echoOrder.map((_, i) => echoOrder[(i + b) % echoOrder.length]);
      const parts = [];
      for (const variant of order) {
        const samples = await echoers[variant]();
        echo[variant].push(...samples);
        const s = summary(samples);
        parts.push(`${LABEL[variant]} p50 ${s.p50.toFixed(3)} p99 ${s.p99.toFixed(3)}`);
      }
      log(`web echo block ${b + 1}/${ECHO_BLOCKS}: ${parts.join('; ')} ms`);
    }
    await socketSession.close();
    await wsSession.close();
  } finally {
    await daemon.stop();
  }

  // A run that did not deliver every byte (a resync with a snapshot, a gap, an error) is reported but
  // left out of the medians and of the pair ratios: its MB/s would count a shorter stream.
  const rawBytes = Math.max(...runs.raw.map((r) => r.bytes));
  const whole = (v, i) => {
    const r = runs[v][i];
    return v === 'raw' || (r.bytes >= rawBytes && r.gaps === 0 && !r.snapshots && !r.errors?.length);
  };
  const kept = (v) => runs[v].filter((_, i) => whole(v, i));
  const mbps = Object.fromEntries(VARIANTS.map((v) => [v, median(kept(v).map((r) => r.mbps))]));
  const ratios = (a, b) =>
    runs[a].flatMap((r, i) => (whole(a, i) && whole(b, i) ? [r.mbps / runs[b][i].mbps] : []));
  const pair = {
    socketRaw: ratios('socket', 'raw'),
    wsRaw: ratios('ws', 'raw'),
    sseRaw: ratios('sse', 'raw'),
    wsSocket: ratios('ws', 'socket'),
    sseSocket: ratios('sse', 'socket'),
  };
  const list = (values) => values.map((x) => x.toFixed(2)).join(' ');
  const integrity = (v) => {
    const partial = runs[v].filter((_, i) => !whole(v, i));
    if (partial.length === 0) return `all ${rawBytes} bytes in every run, no gaps/resyncs`;
    const what = partial.map(
      (r) =>
        `${r.bytes} bytes` +
        (r.snapshots ? `, ${r.snapshots} snapshot resync (${(r.skipped / MB).toFixed(1)} MB skipped)` : '') +
        (r.errors?.length ? `, ${r.errors.join('/')}` : ''),
    );
    return `INCOMPLETE in ${partial.length} of ${runs[v].length} runs, left out (${what.join('; ')})`;
  };
  const throughputRow = (v, figure, key, extra = '') => ({
    figure,
    value: mbps[v],
    unit: 'MB/s',
    reference: mbps.raw,
    referenceLabel: 'raw node-pty read',
    ratio: median(pair[key]),
    target: '(context)',
    met: null,
    note: `${integrity(v)}; pair ratios ${list(pair[key])}; ${cpuNote(kept(v))}${extra}`,
  });
  const sseWire = median(kept('sse').map((r) => r.wireBytes / r.bytes));

  const e = { raw: summary(echo.raw), socket: summary(echo.socket), ws: summary(echo.ws) };
  const echoRow = (v, figure) => ({
    figure,
    value: e[v].p99,
    unit: 'ms',
    reference: e.raw.p99,
    referenceLabel: 'raw node-pty echo p99',
    ratio: e[v].p99 / e.raw.p99,
    target: '(context)',
    met: null,
    note: `added ${(e[v].p99 - e.raw.p99).toFixed(3)} ms; p50 ${e[v].p50.toFixed(3)} (raw ${e.raw.p50.toFixed(3)}, added ${(e[v].p50 - e.raw.p50).toFixed(3)}); max ${e[v].max.toFixed(2)} ms; n=${e[v].n}`,
  });

  return {
    name: 'web',
    rows: [
      throughputRow('socket', 'f. throughput, 100 MB to a socket client', 'socketRaw'),
      throughputRow(
        'ws',
        'f. throughput, 100 MB to a WebSocket client',
        'wsRaw',
        `; ${median(kept('ws').map((r) => r.frames)).toFixed(0)} frames`,
      ),
      throughputRow(
        'sse',
        'f. throughput, 100 MB to an SSE client',
        'sseRaw',
        `; ${median(kept('sse').map((r) => r.events)).toFixed(0)} events, ${sseWire.toFixed(3)} wire bytes per byte`,
      ),
      {
        figure: '   WebSocket vs socket client',
        value: mbps.ws,
        unit: 'MB/s',
        reference: mbps.socket,
        referenceLabel: 'socket client',
        ratio: median(pair.wsSocket),
        target: '(context)',
        met: null,
        note: `pair ratios ${list(pair.wsSocket)}`,
      },
      {
        figure: '   SSE vs socket client',
        value: mbps.sse,
        unit: 'MB/s',
        reference: mbps.socket,
        referenceLabel: 'socket client',
        ratio: median(pair.sseSocket),
        target: '(context)',
        met: null,
        note: `pair ratios ${list(pair.sseSocket)}`,
      },
      echoRow('socket', 'f. echo p99, socket client (write_input, no ack)'),
      echoRow('ws', 'f. echo p99, WebSocket (input{seq,data})'),
    ],
    details: { runs, pairRatios: pair, mbps, echo: e },
  };
}
