/**
 * Runs the benchmarks (all, or those named: `node bench/run.js throughput echo`), prints a table and
 * writes bench/results.json. Every figure sits beside a reference measured in the same run.
 * Progress goes to stderr; the table to stdout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fmt, loadAverage, log } from './lib.js';

const ALL = [
  'echo',
  'throughput',
  'subscribers',
  'stalled',
  'attach',
  'scale',
  'web',
  'auth',
  'adopt',
  'remote',
  'remote-adopt',
  'federation',
];

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model,
    cores: cpus().length,
    ramGiB: Number((totalmem() / 1024 ** 3).toFixed(1)),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    ptyMax: Number(readFileSync('/proc/sys/kernel/pty/max', 'utf8')),
  };
}

function table(rows) {
  const header = ['figure', 'value', 'reference (same run)', 'ratio', 'target', 'met', 'note'];
  const lines = rows.map((r) => [
    r.figure,
    `${fmt(r.value, r.value >= 100 ? 0 : r.value >= 10 ? 1 : r.value >= 1 ? 2 : 3)} ${r.unit}`,
    r.reference === undefined || r.reference === null
      ? '-'
      : `${fmt(r.reference, r.reference >= 100 ? 0 : r.reference >= 1 ? 2 : 3)} (${r.referenceLabel})`,
    r.ratio === null || r.ratio === undefined ? '-' : `${fmt(r.ratio, 2)}x`,
    r.target,
    r.met === null || r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  return [row(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(row)].join('\n');
}

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
for (const name of names) {
  if (!ALL.includes(name)) {
    process.stderr.write(`unknown benchmark: ${name} (choose from ${ALL.join(', ')})\n`);
    process.exit(2);
  }
}

const started = new Date();
const results = {
  date: started.toISOString(),
  machine: machine(),
  loadAverageAtStart: loadAverage(),
  benchmarks: {},
};
log(`machine: ${JSON.stringify(results.machine)}; load average ${results.loadAverageAtStart.join(' ')}`);
const rows = [];
for (const name of names) {
  const t0 = performance.now();
  log(`--- ${name}`);
  try {
    const mod = await import(`./${name}.js`);
    const result = await mod.run();
    const seconds = (performance.now() - t0) / 1000;
    results.benchmarks[name] = { ...result, seconds, loadAverageAfter: loadAverage() };
    rows.push(...result.rows);
    log(`--- ${name} done in ${seconds.toFixed(1)} s (load average ${loadAverage().join(' ')})`);
  } catch (error) {
    log(`--- ${name} FAILED: ${error.stack ?? error}`);
    results.benchmarks[name] = { error: String(error.stack ?? error) };
    rows.push({
      figure: `${name}: FAILED`,
      value: null,
      unit: '',
      target: '',
      met: false,
      note: String(error),
    });
  }
}
results.seconds = (Date.now() - started.getTime()) / 1000;
results.loadAverageAtEnd = loadAverage();
const file = join(import.meta.dirname, 'results.json');
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
// `npm run lint` checks bench/**: leave the generated file formatted the way biome wants it.
const biome = join(import.meta.dirname, '..', 'node_modules', '.bin', 'biome');
if (existsSync(biome)) spawnSync(biome, ['format', '--write', file], { stdio: 'ignore' });
process.stdout.write(`\n${table(rows)}\n\n`);
process.stdout.write(
  `total ${results.seconds.toFixed(0)} s; load average ${results.loadAverageAtStart.join(' ')} -> ${results.loadAverageAtEnd.join(' ')}; results in ${file}\n`,
);
// Missed targets are results, not failures; only a benchmark that crashed fails the run.
process.exit(Object.values(results.benchmarks).some((b) => b.error) ? 1 : 0);
