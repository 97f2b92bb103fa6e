/**
 * Shared helpers for the benchmarks: the real daemon in a temp state dir, /proc readings,
 * statistics, and the raw @lydell/node-pty references every figure is compared against.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as pty from '@lydell/node-pty';
import { TowerClient } from '../dist/client/client.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const TOWER_BIN = join(ROOT, 'bin', 'tower.js');
export const MB = 1e6;
export const MiB = 1024 * 1024;

/** 100 MB of printable 80-byte lines; the PTY turns each \n into \r\n. */
export const LINE = 'The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwx';
export function flood(bytes) {
  return `yes '${LINE.slice(0, 79)}' | head -c ${bytes}`;
}

/** A session printing flood(bytes) in an 80×24 terminal. */
export function floodSession(client, bytes) {
  return client.createSession({
    shell: '/bin/sh',
    args: ['-c', flood(bytes)],
    cwd: ROOT,
    cols: 80,
    rows: 24,
  });
}

export function log(...parts) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.join(' ')}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

// ---------------------------------------------------------------- statistics

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}
export const median = (values) => percentile(values, 50);

// ---------------------------------------------------------------- /proc

export function procStatus(pid) {
  return readFileSync(`/proc/${pid}/status`, 'utf8');
}

function statusKb(pid, field) {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(procStatus(pid));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Resident set size in bytes. */
export const rssOf = (pid) => statusKb(pid, 'VmRSS');
/** Peak resident set size since the process started, in bytes. */
export const hwmOf = (pid) => statusKb(pid, 'VmHWM');

export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** Machine-wide CPU counters (ms summed over all cores) from /proc/stat. */
export function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * TICK_MS, idle: (f[3] + f[4]) * TICK_MS };
}

/** Share of the machine's CPU time that was busy between two machineCpu() readings (0..1). */
export function busyShare(before, after) {
  const busy = after.busy - before.busy;
  const idle = after.idle - before.idle;
  return busy + idle > 0 ? busy / (busy + idle) : Number.NaN;
}

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

function statFields(statPath) {
  const stat = readFileSync(statPath, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU ms (user + system) used by one task (/proc/PID/task/TID) or process. */
function cpuMsOf(statPath) {
  const fields = statFields(statPath);
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** CPU ms used by the reaped children of a process (pid, or 'self'): the programs its PTYs ran. */
export function childrenCpu(pid = 'self') {
  const fields = statFields(`/proc/${pid}/stat`);
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

/** CPU ms per thread of a process, keyed "tid:comm", plus "total" (all threads) and "children" (reaped). */
export function threadCpu(pid) {
  const result = { total: cpuMsOf(`/proc/${pid}/stat`), children: childrenCpu(pid) };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      result[`${tid}:${comm}`] = cpuMsOf(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      // thread ended
    }
  }
  return result;
}

/** Per-thread CPU ms between two threadCpu() readings, busiest first, as {name: ms}. */
export function cpuDelta(before, after) {
  const out = {};
  for (const [key, ms] of Object.entries(after)) {
    const d = ms - (before[key] ?? 0);
    if (d > 0 || key === 'total' || key === 'children') out[key] = d;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** Samples a pid's RSS every `everyMs`; stop() returns {peak, samples}. */
export function sampleRss(pid, everyMs = 100) {
  let peak = rssOf(pid);
  let samples = 1;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
      samples++;
    } catch {
      // process gone
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {
        // process gone
      }
      return { peak, samples };
    },
  };
}

// ---------------------------------------------------------------- the daemon

const WEB_URL = /Tower web workspace: (\S+?)\/#token=(\S+)\n/;

/**
 * Starts the real daemon (`node bin/tower.js --state-dir DIR serve --port 0 ARGS`) with a raised fd limit,
 * or, with `script`, a bench script that starts it in-process (for instrumented diagnostics).
 * `substrates`: the entries of the substrates.json it starts with.
 */
export async function startDaemon({ nofile = 20000, script, args = [], substrates } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-bench-'));
  if (substrates) {
    writeFileSync(join(stateDir, 'substrates.json'), JSON.stringify({ substrates }, null, 2), {
      mode: 0o600,
    });
  }
  // `--port 0`: the web workspace (HTTP, WebSocket, SSE) on a free port, never the fixed default 7613.
  const entry = script
    ? [script, stateDir, ...args]
    : [TOWER_BIN, '--state-dir', stateDir, 'serve', '--port', '0', ...args];
  const quoted = entry.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  // `ulimit -n` may not exceed the hard limit; fall back to what we are allowed.
  const command = `ulimit -n ${nofile} 2>/dev/null || ulimit -n $(ulimit -Hn); exec '${process.execPath}' ${quoted}`;
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TOWER_STATE_DIR: stateDir },
  });
  let output = '';
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  await new Promise((resolvePromise, reject) => {
    const onData = (chunk) => {
      output += chunk.toString();
      // `serve` prints the web workspace's URL right after the socket line; an instrumented daemon has none.
      if (output.includes('listening on') && (script || args.includes('--no-http') || WEB_URL.test(output))) {
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolvePromise();
      }
    };
    const onExit = (code) => reject(new Error(`daemon exited early (${code}): ${output}`));
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += chunk.toString();
    });
    child.once('exit', onExit);
  });
  // Keep draining its output so a chatty daemon never blocks on a full pipe.
  child.stdout.on('data', (chunk) => {
    output += chunk.toString();
    if (process.env.BENCH_VERBOSE) process.stderr.write(chunk);
  });
  child.stderr.on('data', (chunk) => process.stderr.write(`[daemon] ${chunk}`));
  const clients = [];
  const web = WEB_URL.exec(output);
  // Sessions live in the session host `serve` started; `serve` itself is the control plane.
  const hostPid = script ? child.pid : Number(readFileSync(join(stateDir, 'host.pid'), 'utf8'));
  return {
    stateDir,
    /** The web workspace (`http://127.0.0.1:PORT`, no trailing slash) and its admin token; null without HTTP. */
    webUrl: web ? web[1] : null,
    token: web ? web[2] : null,
    /** The process that holds the sessions (PTYs, journals, screens): the session host. */
    pid: hostPid,
    /** `tower serve`: the control plane (agents, web). */
    controlPid: child.pid,
    child,
    /** The stdout the daemon printed so far (instrumented daemons print diagnostics here). */
    output: () => output,
    async connect() {
      const client = await TowerClient.connect({ stateDir });
      clients.push(client);
      return client;
    },
    /** Every Tower process together. */
    rss: () => rssOf(child.pid) + (hostPid === child.pid ? 0 : rssOf(hostPid)),
    async stop() {
      for (const client of clients) client.end();
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await new Promise((r) => (exited ? r() : child.once('exit', r)));
        clearTimeout(timer);
      }
      // The host that runs now: a benchmark may have stopped the first and had `serve` start another.
      const current = hostPid === child.pid ? null : currentHost(stateDir);
      if (current) await endProcess(current);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The pid of the session host running on stateDir now (none once stopped), or null. */
function currentHost(stateDir) {
  try {
    const pid = Number(readFileSync(join(stateDir, 'host.pid'), 'utf8'));
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stateDir) ? pid : null;
  } catch {
    return null;
  }
}

/** SIGTERM (ends its sessions), SIGKILL after 15 s; resolves once the process is gone. */
async function endProcess(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let waited = 0; waited < 15_000; waited += 20) {
    // Gone, or a zombie waiting to be reaped (its parent, serve, exited first).
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return;
    } catch {
      return;
    }
    await sleep(20);
  }
  process.kill(pid, 'SIGKILL');
}

/** The JSON of the instrumented daemon's last `STATS` line, waiting up to 3 s for it to arrive. */
export async function instrumentedStats(daemon, count = 1) {
  const deadline = now() + 3000;
  for (;;) {
    const lines = daemon
      .output()
      .split('\n')
      .filter((l) => l.startsWith('STATS '));
    if (lines.length >= count || now() > deadline) {
      return lines.length > 0 ? JSON.parse(lines[lines.length - 1].slice(6)) : null;
    }
    await sleep(20);
  }
}

/** Resolves once `client` has delivered a 'closed' for the session; counts output bytes on the way. */
export function collect(client, sessionId, { onBytes, onOutput: check } = {}) {
  let bytes = 0;
  let frames = 0;
  let snapshots = 0;
  let gaps = 0;
  let next;
  let lastAt = 0;
  let resolveDone;
  const done = new Promise((r) => {
    resolveDone = r;
  });
  const onOutput = (event) => {
    if (event.sessionId !== sessionId) return;
    if (next !== undefined && event.offset !== undefined && event.offset !== next) gaps++;
    if (event.offset !== undefined) next = event.offset + event.data.length;
    check?.(event);
    bytes += event.data.length;
    frames++;
    lastAt = now();
    onBytes?.(bytes);
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
    resolveDone({ closedAt: now(), exitCode: event.exitCode });
  };
  client.on('output', onOutput);
  client.on('snapshot', onSnapshot);
  client.on('closed', onClosed);
  return {
    done,
    stats: () => ({ bytes, frames, snapshots, gaps, lastAt }),
  };
}

/** Close and remove every session of a daemon, `parallel` at a time. */
export async function removeAll(client, parallel = 50) {
  const sessions = await client.list();
  for (let i = 0; i < sessions.length; i += parallel) {
    await Promise.all(
      sessions.slice(i, i + parallel).map(async (s) => {
        if (s.status === 'running') await client.close(s.id).catch(() => {});
        await client.remove(s.id).catch(() => {});
      }),
    );
  }
}

// ---------------------------------------------------------------- raw node-pty references

const PTY_OPTS = { name: 'xterm-256color', cols: 80, rows: 24, encoding: null };

function ptyEnv() {
  return { ...process.env, TERM: 'xterm-256color' };
}

/** Raw @lydell/node-pty read of `sh -c command`: bytes counted in onData until exit. */
export function rawPtyRead(command) {
  return new Promise((resolvePromise) => {
    const t0 = now();
    const child = pty.spawn('/bin/sh', ['-c', command], { ...PTY_OPTS, cwd: ROOT, env: ptyEnv() });
    let bytes = 0;
    let events = 0;
    let lastAt = t0;
    child.onData((chunk) => {
      bytes += chunk.length;
      events++;
      lastAt = now();
    });
    child.onExit(({ exitCode }) => {
      const exitAt = now();
      // Let any queued onData land, then report (node-pty may lose the tail at exit: it reports EOF while the
      // kernel still holds the last bytes, which Tower drains; see docs/ARCHITECTURE.md, "No loss at exit").
      setTimeout(() => {
        child.destroy?.();
        resolvePromise({ bytes, events, ms: lastAt - t0, exitMs: exitAt - t0, exitCode });
      }, 50);
    });
  });
}

/**
 * Accumulates output and resolves `waitFor(want)` with the time `want` was first seen
 * (then forgets what it saw, so the next wait starts fresh).
 */
/** `cat` itself echoes (the line discipline does not), so each byte crosses the program. */
export const ECHO_PROGRAM = "stty raw -echo; printf 'READY\\n'; exec cat";

/** A Tower session running ECHO_PROGRAM; returns its id. */
export async function createEchoSession(client) {
  const { sessionId } = await client.createSession({
    shell: '/bin/sh',
    args: ['-c', ECHO_PROGRAM],
    cwd: ROOT,
    cols: 80,
    rows: 24,
  });
  return sessionId;
}

/** Subscribe the socket client to an echo session; resolves with its output waiter once READY is seen. */
export async function subscribeEcho(client, sessionId) {
  const output = outputWaiter();
  client.on('output', (event) => {
    if (event.sessionId === sessionId) output.feed(event.data.toString('latin1'));
  });
  const ready = output.waitFor('READY');
  await client.subscribe(sessionId, { fromOffset: 0 });
  await ready;
  output.reset();
  return output;
}

export function outputWaiter() {
  let seen = '';
  let waiting = null;
  return {
    feed(text) {
      seen += text;
      if (waiting && seen.includes(waiting.want)) {
        const w = waiting;
        waiting = null;
        seen = '';
        w.resolve(now());
      }
    },
    waitFor(want) {
      return new Promise((resolve) => {
        if (seen.includes(want)) {
          seen = '';
          resolve(now());
        } else waiting = { want, resolve };
      });
    },
    reset() {
      seen = '';
    },
  };
}

/** Time `rounds` keystrokes: each byte sent with `send`, until `waitFor(byte)` sees it come back. */
export async function timeEchoes(rounds, waitFor, send) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const byte = String.fromCharCode(97 + (i % 26));
    const echoed = waitFor(byte);
    const t0 = now();
    send(byte);
    samples.push((await echoed) - t0);
  }
  return samples;
}

/** Raw node-pty echo: one byte written, time until it comes back in onData. */
export async function rawPtyEcho(command, rounds, ready) {
  const child = pty.spawn('/bin/sh', ['-c', command], { ...PTY_OPTS, cwd: ROOT, env: ptyEnv() });
  const output = outputWaiter();
  child.onData((chunk) => output.feed(chunk.toString('latin1')));
  const waitFor = (want) => output.waitFor(want);
  await waitFor(ready);
  const samples = await timeEchoes(rounds, waitFor, (byte) => child.write(byte));
  child.kill('SIGKILL');
  child.destroy?.();
  return samples;
}

export function fmt(n, digits = 2) {
  if (n === undefined || n === null || Number.isNaN(n)) return '-';
  return Number(n).toFixed(digits);
}
