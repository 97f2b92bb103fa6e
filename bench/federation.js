/**
 * (l) Federation: a peer's session read through the local Tower's relay (/ws/terminal/PEER%2FID) beside
 * the same kind of session read directly from the peer's own WebSocket, in the same run: 100 MB of
 * throughput (alternating, every byte counted, gaps and resyncs reported) and keystroke echo p99
 * (alternating blocks). Then `GET /api/sessions?scope=all` latency with 3 peers, and with a fourth that
 * accepts TCP connections and never answers, beside the local list (`GET /api/sessions`).
 */
import { createServer } from 'node:net';
import { PeerStore } from '../dist/state/peers.js';
import { log, median, now, startDaemon } from './lib.js';
import { summary, wsEcho, wsRead } from './web.js';

const ROUNDS = 3;
const ECHO_BLOCKS = 10;
const ECHO_PER_BLOCK = 100;
const WARMUP = 50;
const LIST_SAMPLES = 30;
const SESSIONS_PER_PEER = 5;

function addPeer(on, name, url, token) {
  new PeerStore(on.stateDir).put({
    name,
    url,
    token,
    fingerprint: null,
    public_key: null,
    granted: null,
    added_by: 'manual',
    added_at: new Date().toISOString(),
  });
}

async function throughputAndEcho(local, peer) {
  const client = await peer.connect();
  const runs = { direct: [], relayed: [] };
  const read = {
    direct: () => wsRead(peer, client),
    relayed: () => wsRead(peer, client, local, 'b/'),
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['direct', 'relayed'] : ['relayed', 'direct'];
    for (const variant of order) {
      const r = await read[variant]();
      runs[variant].push(r);
      log(
        `federation round ${round + 1}/${ROUNDS} ${variant}: ${r.mbps.toFixed(1)} MB/s, ${r.bytes} bytes, ` +
          `gaps ${r.gaps}, snapshots ${r.snapshots}${r.errors.length ? `, errors ${r.errors.join(',')}` : ''}`,
      );
    }
  }
  const echoers = { direct: await wsEcho(peer, client), relayed: await wsEcho(peer, client, local, 'b/') };
  await echoers.direct.echo(WARMUP);
  await echoers.relayed.echo(WARMUP);
  const echo = { direct: [], relayed: [] };
  for (let b = 0; b < ECHO_BLOCKS; b++) {
    const order = b % 2 === 0 ? ['direct', 'relayed'] : ['relayed', 'direct'];
    for (const variant of order) echo[variant].push(...(await echoers[variant].echo(ECHO_PER_BLOCK)));
  }
  await echoers.direct.close();
  await echoers.relayed.close();
  return { runs, echo };
}

async function listLatency(local, path) {
  const samples = [];
  let sessions = 0;
  let peers = new Set();
  for (let i = 0; i < LIST_SAMPLES; i++) {
    const t0 = now();
    const response = await fetch(`${local.webUrl}${path}`, {
      headers: { authorization: `Bearer ${local.token}` },
    });
    const body = await response.json();
    samples.push(now() - t0);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(body)}`);
    sessions = body.sessions.length;
    peers = new Set(body.sessions.map((s) => s.peer ?? null));
  }
  return { ...summary(samples), sessions, peers: [...peers] };
}

export async function run() {
  const a = await startDaemon();
  const peers = [];
  const hanging = createServer(() => {});
  const held = new Set();
  hanging.on('connection', (socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
  });
  let stream;
  let lists;
  try {
    for (const name of ['b', 'c', 'd']) {
      const peer = await startDaemon();
      peers.push(peer);
      addPeer(a, name, peer.webUrl, peer.token);
    }
    stream = await throughputAndEcho(a, peers[0]);

    for (const peer of peers) {
      const client = await peer.connect();
      for (let i = 0; i < SESSIONS_PER_PEER; i++)
        await client.createSession({ shell: '/bin/sh', args: ['-c', 'sleep 600'] });
    }
    lists = { local: await listLatency(a, '/api/sessions') };
    lists.all3 = await listLatency(a, '/api/sessions?scope=all');
    await new Promise((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    addPeer(a, 'hang', `http://127.0.0.1:${hanging.address().port}`, 'any');
    lists.allHanging = await listLatency(a, '/api/sessions?scope=all');
    for (const [k, v] of Object.entries(lists))
      log(`federation list ${k}: p50 ${v.p50.toFixed(1)} p99 ${v.p99.toFixed(1)} ms, ${v.sessions} sessions`);
  } finally {
    for (const socket of held) socket.destroy();
    hanging.close();
    for (const peer of peers) await peer.stop();
    await a.stop();
  }

  const whole = (r) => r.gaps === 0 && !r.snapshots && r.errors.length === 0;
  const expected = Math.max(...stream.runs.direct.map((r) => r.bytes));
  const complete = (r) => whole(r) && r.bytes >= expected;
  const mbps = (v) => median(stream.runs[v].filter(complete).map((r) => r.mbps));
  const pairs = stream.runs.relayed.map((r, i) => r.mbps / stream.runs.direct[i].mbps);
  const integrity = (v) => {
    const bad = stream.runs[v].filter((r) => !complete(r)).length;
    return bad === 0 ? `all ${expected} bytes every run, no gaps/resyncs` : `INCOMPLETE in ${bad} runs`;
  };
  const e = { direct: summary(stream.echo.direct), relayed: summary(stream.echo.relayed) };
  // Before fleet listing is on this build, scope=all answers the local list: say so rather than time it.
  const federated = lists.all3.peers.some((p) => p !== null);
  const listRow = (key, figure) => ({
    figure,
    value: lists[key].p99,
    unit: 'ms',
    reference: lists.local.p99,
    referenceLabel: 'local GET /api/sessions p99',
    ratio: lists[key].p99 / lists.local.p99,
    target: '(context)',
    met: null,
    note: federated
      ? `p50 ${lists[key].p50.toFixed(1)} ms, max ${lists[key].max.toFixed(1)} ms; ${lists[key].sessions} sessions; n=${lists[key].n}`
      : 'NOT FEDERATED on this build (no session had a peer field): scope=all answered the local list',
  });
  return {
    name: 'federation',
    rows: [
      {
        figure: 'l. throughput, 100 MB of a peer session through the local relay',
        value: mbps('relayed'),
        unit: 'MB/s',
        reference: mbps('direct'),
        referenceLabel: "the peer's own WebSocket",
        ratio: median(pairs),
        target: '(context)',
        met: null,
        note: `${integrity('relayed')}; direct ${integrity('direct')}; pair ratios ${pairs.map((x) => x.toFixed(2)).join(' ')}`,
      },
      {
        figure: 'l. echo p99 of a peer session through the local relay',
        value: e.relayed.p99,
        unit: 'ms',
        reference: e.direct.p99,
        referenceLabel: "the peer's own WebSocket p99",
        ratio: e.relayed.p99 / e.direct.p99,
        target: '(context)',
        met: null,
        note: `added ${(e.relayed.p99 - e.direct.p99).toFixed(3)} ms; p50 ${e.relayed.p50.toFixed(3)} (direct ${e.direct.p50.toFixed(3)}); n=${e.relayed.n}`,
      },
      listRow('all3', 'l. ls --all (scope=all) p99, 3 peers'),
      listRow('allHanging', 'l. ls --all (scope=all) p99, 3 peers + 1 hanging'),
    ],
    details: { stream, lists },
  };
}
