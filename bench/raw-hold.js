/**
 * Reference for (c): a bare Node process holding N idle @lydell/node-pty sessions.
 * Usage: node bench/raw-hold.js N — prints one JSON line {n, rssBefore, rssAfter, createMs}, then holds the
 * PTYs until stdin closes, then kills them and exits.
 */
import { readFileSync } from 'node:fs';
import * as pty from '@lydell/node-pty';

const n = Number(process.argv[2] ?? 100);
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const opts = {
  name: 'xterm-256color',
  cols: 80,
  rows: 24,
  cwd: process.cwd(),
  env: process.env,
  encoding: null,
};

// Warm up the addon and its code paths before the baseline, as the daemon benchmark does.
for (let i = 0; i < 5; i++) {
  const p = pty.spawn('sleep', ['3600'], opts);
  p.kill('SIGKILL');
}
await new Promise((r) => setTimeout(r, 500));
const rssBefore = rss();
const t0 = performance.now();
const held = [];
for (let i = 0; i < n; i++) {
  const p = pty.spawn('sleep', ['3600'], opts);
  p.onData(() => {});
  held.push(p);
}
const createMs = performance.now() - t0;
await new Promise((r) => setTimeout(r, 1000));
process.stdout.write(`${JSON.stringify({ n, rssBefore, rssAfter: rss(), createMs })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  for (const p of held) p.kill('SIGKILL');
  setTimeout(() => process.exit(0), 200);
});
