/**
 * (d) Attach to a session with 100 MB of history: time from a new client's subscribe(id, {snapshot: true})
 * to its 'snapshot' message, and from client.snapshot(id) to its reply; median of 10 each.
 * Once for a session that went quiet (still running) and once for one that exited.
 * References (same run): `ping` on a new connection (the floor for any request), and serializing an
 * equivalent @xterm/headless screen (80x24, 1000 lines of scrollback) in this process.
 */
import { SerializeAddon } from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { flood, LINE, log, median, now, percentile, ROOT, sleep, startDaemon } from './lib.js';
import { BYTES } from './throughput.js';

const ROUNDS = 10;

async function waitQuiet(client, sessionId, minBytes) {
  let last = -1;
  let stableSince = now();
  const t0 = now();
  for (;;) {
    const info = (await client.list()).find((s) => s.id === sessionId);
    if (info.last_offset !== last) {
      last = info.last_offset;
      stableSince = now();
    } else if (last >= minBytes && now() - stableSince > 500) {
      return { info, ms: now() - t0 };
    }
    await sleep(100);
  }
}

async function attachOnce(daemon, sessionId, how) {
  const client = await daemon.connect();
  try {
    const t0 = now();
    let snapshot;
    if (how === 'subscribe') {
      const got = new Promise((resolve) =>
        client.on('snapshot', (message) => message.session_id === sessionId && resolve(message)),
      );
      await client.subscribe(sessionId, { snapshot: true });
      snapshot = await got;
    } else {
      snapshot = await client.snapshot(sessionId);
    }
    return { ms: now() - t0, bytes: snapshot.data.length, offset: snapshot.offset };
  } finally {
    client.end();
  }
}

async function pingNewConnection(daemon) {
  const client = await daemon.connect();
  try {
    const t0 = now();
    await client.ping();
    return now() - t0;
  } finally {
    client.end();
  }
}

/** In-process reference: the same kind of screen serialized by @xterm/headless + addon-serialize directly. */
async function serializeReference() {
  const terminal = new xtermHeadless.Terminal({
    cols: 80,
    rows: 24,
    scrollback: 1000,
    allowProposedApi: true,
  });
  const serializer = new SerializeAddon();
  terminal.loadAddon(serializer);
  const text = `${LINE.slice(0, 79)}\r\n`.repeat(2000);
  await new Promise((r) => terminal.write(text, r));
  const samples = [];
  let bytes = 0;
  const WARM = 10;
  for (let i = 0; i < ROUNDS + WARM; i++) {
    const t0 = now();
    bytes = serializer.serialize({ scrollback: 1000 }).length;
    samples.push(now() - t0);
  }
  terminal.dispose();
  return { ms: median(samples.slice(WARM)), bytes };
}

async function measure(daemon, sessionId, label) {
  const first = await attachOnce(daemon, sessionId, 'subscribe');
  const sub = [];
  const snap = [];
  for (let i = 0; i < ROUNDS; i++) {
    sub.push(await attachOnce(daemon, sessionId, 'subscribe'));
    snap.push(await attachOnce(daemon, sessionId, 'snapshot'));
  }
  const r = {
    label,
    firstMs: first.ms,
    subscribeMs: median(sub.map((s) => s.ms)),
    subscribeP90: percentile(
      sub.map((s) => s.ms),
      90,
    ),
    snapshotMs: median(snap.map((s) => s.ms)),
    snapshotP90: percentile(
      snap.map((s) => s.ms),
      90,
    ),
    bytes: sub[0].bytes,
  };
  log(
    `attach (${label}): first ${r.firstMs.toFixed(1)} ms; subscribe+snapshot median ${r.subscribeMs.toFixed(1)} ms` +
      ` (p90 ${r.subscribeP90.toFixed(1)}); get_snapshot median ${r.snapshotMs.toFixed(1)} ms (p90 ${r.snapshotP90.toFixed(1)});` +
      ` snapshot ${r.bytes} chars`,
  );
  return r;
}

export async function run() {
  const daemon = await startDaemon();
  const results = [];
  let ping;
  let reference;
  try {
    const client = await daemon.connect();
    const spec = { shell: '/bin/sh', cwd: ROOT, cols: 80, rows: 24 };
    const quiet = await client.createSession({ ...spec, args: ['-c', `${flood(BYTES)}; exec sleep 3600`] });
    const q = await waitQuiet(client, quiet.sessionId, BYTES);
    log(`attach: quiet session holds ${q.info.last_offset} bytes (generated in ${q.ms.toFixed(0)} ms)`);
    results.push(await measure(daemon, quiet.sessionId, 'running, quiet'));
    const exited = await client.createSession({ ...spec, args: ['-c', flood(BYTES)] });
    const e = await waitQuiet(client, exited.sessionId, BYTES);
    log(`attach: exited session holds ${e.info.last_offset} bytes, status ${e.info.status}`);
    results.push(await measure(daemon, exited.sessionId, 'exited'));
    const pings = [];
    for (let i = 0; i < ROUNDS; i++) pings.push(await pingNewConnection(daemon));
    ping = median(pings);
    await client.close(quiet.sessionId);
  } finally {
    await daemon.stop();
  }
  reference = await serializeReference();
  log(
    `attach references: ping on a new connection ${ping.toFixed(3)} ms; in-process serialize ${reference.ms.toFixed(2)} ms (${reference.bytes} chars)`,
  );
  const rows = [];
  for (const r of results) {
    rows.push({
      figure: `d. attach: subscribe{snapshot} (${r.label})`,
      value: r.subscribeMs,
      unit: 'ms',
      reference: reference.ms,
      referenceLabel: 'in-process xterm serialize',
      ratio: r.subscribeMs / reference.ms,
      target: '<= 30 ms',
      met: r.subscribeMs <= 30,
      note: `p90 ${r.subscribeP90.toFixed(1)} ms; first attach ${r.firstMs.toFixed(1)} ms; ${(r.bytes / 1024).toFixed(0)} KiB snapshot; ping ${ping.toFixed(2)} ms`,
    });
    rows.push({
      figure: `d. attach: get_snapshot (${r.label})`,
      value: r.snapshotMs,
      unit: 'ms',
      reference: reference.ms,
      referenceLabel: 'in-process xterm serialize',
      ratio: r.snapshotMs / reference.ms,
      target: '<= 30 ms',
      met: r.snapshotMs <= 30,
      note: `p90 ${r.snapshotP90.toFixed(1)} ms`,
    });
  }
  return { name: 'attach', rows, details: { results, pingMs: ping, serialize: reference } };
}
