#!/usr/bin/env node
/**
 * Layers never import upward: every relative import in src/ and web/src/ is checked against the
 * table below (run by `npm run lint`). A layer may import itself and the layers it lists.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

const BELOW = {
  protocol: [],
  state: ['protocol'],
  terminal: ['protocol', 'state'],
  substrates: ['terminal', 'client', 'protocol', 'state'],
  sessions: ['substrates', 'terminal', 'protocol', 'state'],
  agents: ['sessions', 'substrates', 'terminal', 'protocol', 'state'],
  server: ['sessions', 'substrates', 'terminal', 'protocol', 'state'],
  control: ['agents', 'client', 'sessions', 'substrates', 'terminal', 'protocol', 'state'],
  federation: ['client', 'protocol', 'state'],
  mcp: ['client', 'protocol', 'state'],
  'server/http': ['federation', 'mcp', 'client', 'protocol', 'state'],
  client: ['protocol', 'state'],
  cli: ['client', 'protocol', 'state'],
  web: ['protocol'],
};
/** `tower serve` and `tower host` alone start the processes, and show the sessions' defaults. */
const EXCEPTIONS = {
  'src/cli/serve.ts': ['control', 'server/http', 'sessions', 'substrates', 'agents'],
  'src/cli/host.ts': ['server', 'sessions', 'substrates'],
  'src/cli/host-bridge.ts': ['control'],
  'src/cli/mcp.ts': ['mcp'],
};

function layerOf(file) {
  const path = relative(ROOT, file);
  if (path.startsWith('web/')) return 'web';
  const parts = path.split('/');
  if (parts[1] === 'server' && parts[2] === 'http') return 'server/http';
  return parts[1];
}

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
const problems = [];
for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'web', 'src'))]) {
  const layer = layerOf(file);
  const allowed = new Set([layer, ...BELOW[layer], ...(EXCEPTIONS[relative(ROOT, file)] ?? [])]);
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(IMPORT)) {
    const target = resolve(dirname(file), match[1] ?? match[2]);
    const targetLayer = layerOf(target);
    if (!allowed.has(targetLayer)) {
      problems.push(`${relative(ROOT, file)} (${layer}) imports ${relative(ROOT, target)} (${targetLayer})`);
    }
  }
}
if (problems.length > 0) {
  process.stderr.write(
    `imports that go up a layer (see scripts/check-layers.js):\n  ${problems.join('\n  ')}\n`,
  );
  process.exit(1);
}
