/**
 * (c) Scale: 100 / 500 / 1000 idle sessions (`sleep 3600`) in a fresh daemon per size.
 * Daemon RSS per session, against a bare Node process holding as many raw node-pty PTYs;
 * `list_sessions` latency (median of 20), against `ping` on the same connection.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fdCount, log, MiB, median, now, ROOT, removeAll, sleep, startDaemon } from './lib.js';

export const SIZES = [100, 500, 1000];
const PARALLEL_CREATES = 16;
const LIST_ROUNDS = 20;

const ptyMax = () => Number(readFileSync('/proc/sys/kernel/pty/max', 'utf8'));
const ptyInUse = () => Number(readFileSync('/proc/sys/kernel/pty/nr', 'utf8'));

/** RSS after it has stopped moving (two readings 300 ms apart within 1%), at most ~3 s. */
async function settledRss(read) {
  let last = read();
  for (let i = 0; i < 10; i++) {
    await sleep(300);
    const current = read();
    if (Math.abs(current - last) <= last * 0.01) return current;
    last = current;
  }
  return last;
}

function rawHold(n) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'raw-hold.js'), String(n)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: ROOT,
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        const result = JSON.parse(out.split('\n')[0]);
        child.stdin.end();
        child.once('exit', () => resolve(result));
      }
    });
    child.once('error', reject);
  });
}

async function timed(fn, rounds) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = now();
    await fn();
    samples.push(now() - t0);
  }
  return samples;
}

async function one(n) {
  const daemon = await startDaemon({ nofile: 65536, args: ['--max-sessions', '2000'] });
  try {
    const client = await daemon.connect();
    const spec = { shell: 'sleep', args: ['3600'], cwd: ROOT, cols: 80, rows: 24 };
    // Warm-up: load the PTY addon, SQLite statements, the screen worker's first terminal.
    for (let i = 0; i < 5; i++) await client.createSession(spec);
    await removeAll(client);
    const rssBefore = await settledRss(daemon.rss);
    const fdsBefore = fdCount(daemon.pid);
    const ptysBefore = ptyInUse();
    const t0 = now();
    let created = 0;
    let failure = null;
    const worker = async () => {
      while (created < n && !failure) {
        created++;
        await client.createSession(spec).catch((error) => {
          failure ??= error;
        });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_CREATES }, worker));
    const createMs = now() - t0;
    const rssAfter = await settledRss(daemon.rss);
    const fdsAfter = fdCount(daemon.pid);
    const ptysInUse = ptyInUse();
    const sessions = await client.list();
    const running = sessions.filter((s) => s.status === 'running').length;
    const list = await timed(() => client.list(), LIST_ROUNDS);
    const ping = await timed(() => client.ping(), LIST_ROUNDS);
    const listBytes = JSON.stringify(sessions).length;
    const t1 = now();
    await removeAll(client);
    const cleanupMs = now() - t1;
    const rssCleaned = await settledRss(daemon.rss);
    const left = (await client.list()).length;
    return {
      n,
      running,
      failure: failure ? `${failure.code ?? ''} ${failure.message}` : null,
      rssBefore,
      rssAfter,
      rssCleaned,
      perSessionBytes: (rssAfter - rssBefore) / n,
      fdsPerSession: (fdsAfter - fdsBefore) / n,
      ptysBefore,
      ptysInUse,
      createMs,
      listMedianMs: median(list),
      listMaxMs: Math.max(...list),
      pingMedianMs: median(ping),
      listBytes,
      cleanupMs,
      left,
    };
  } finally {
    await daemon.stop();
  }
}

export async function run() {
  const results = [];
  const max = ptyMax();
  log(`scale: pty max ${max}, in use ${ptyInUse()}`);
  for (const n of SIZES) {
    const r = await one(n);
    const raw = await rawHold(n);
    r.rawPerPtyBytes = (raw.rssAfter - raw.rssBefore) / n;
    r.rawCreateMs = raw.createMs;
    results.push(r);
    log(
      `scale ${n}: ${r.running} running${r.failure ? ` (FAILED: ${r.failure})` : ''}; created in ${r.createMs.toFixed(0)} ms` +
        ` (raw ${raw.createMs.toFixed(0)} ms); rss ${(r.rssBefore / MiB).toFixed(1)} -> ${(r.rssAfter / MiB).toFixed(1)} MiB` +
        ` = ${(r.perSessionBytes / MiB).toFixed(3)} MiB/session (raw node-pty ${(r.rawPerPtyBytes / MiB).toFixed(3)});` +
        ` fds/session ${r.fdsPerSession.toFixed(1)}; list ${r.listMedianMs.toFixed(2)} ms (max ${r.listMaxMs.toFixed(2)},` +
        ` ${r.listBytes} bytes), ping ${r.pingMedianMs.toFixed(3)} ms; cleanup ${r.cleanupMs.toFixed(0)} ms,` +
        ` rss after cleanup ${(r.rssCleaned / MiB).toFixed(1)} MiB, ${r.left} left`,
    );
  }
  const rows = [];
  for (const r of results) {
    const complete = r.running === r.n;
    rows.push({
      figure: `c. RSS per idle session, n=${r.n}`,
      value: r.perSessionBytes / MiB,
      unit: 'MiB',
      reference: r.rawPerPtyBytes / MiB,
      referenceLabel: 'bare node-pty process, per PTY',
      ratio: r.perSessionBytes / r.rawPerPtyBytes,
      target: '<= 2 MiB',
      met: complete && r.perSessionBytes <= 2 * MiB,
      note:
        `${r.running}/${r.n} running; daemon ${(r.rssBefore / MiB).toFixed(0)} -> ${(r.rssAfter / MiB).toFixed(0)} MiB, ` +
        `${(r.rssCleaned / MiB).toFixed(0)} MiB after cleanup; ${r.fdsPerSession.toFixed(1)} fds/session`,
    });
    rows.push({
      figure: `c. list_sessions latency, n=${r.n}`,
      value: r.listMedianMs,
      unit: 'ms',
      reference: r.pingMedianMs,
      referenceLabel: 'ping, same connection',
      ratio: r.listMedianMs / r.pingMedianMs,
      target: '<= 50 ms',
      met: complete && r.listMedianMs <= 50,
      note: `max ${r.listMaxMs.toFixed(1)} ms; reply ${(r.listBytes / 1024).toFixed(0)} KiB; create ${(r.createMs / r.n).toFixed(1)} ms/session (raw node-pty ${(r.rawCreateMs / r.n).toFixed(1)})`,
    });
  }
  return { name: 'scale', rows, details: { ptyMax: max, results } };
}
