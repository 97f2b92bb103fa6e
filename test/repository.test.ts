/**
 * What a fresh clone gives a user: an install that agrees with itself (engines, dependencies, the
 * lock file, CI's install command), docs that point only at files in the repository, and a default
 * web port that no common tool already takes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_PORT } from '../dist/server/http/server.js';
import { runCli } from './support/cli.js';
import { ROOT } from './support/daemon.js';

interface LockEntry {
  version?: string;
  engines?: { node?: string };
  optionalDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock: { packages: Record<string, LockEntry> } = JSON.parse(
  readFileSync(join(ROOT, 'package-lock.json'), 'utf8'),
);

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** The lowest version of each range `||` joins: ^20.19.0 || >=22.12.0 gives 20.19.0 and 22.12.0. */
function lowestVersions(range: string): string[] {
  return new semver.Range(range).set.map(
    (comparators) => semver.minVersion(comparators.map((c) => c.value).join(' '))!.version,
  );
}

/** Where npm finds `name` for the package installed at `from` (node_modules/a/node_modules/b …). */
function resolveInLock(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (dir === '') return undefined;
  }
}

describe('the install', () => {
  it("every locked package accepts the lowest Node of each range Tower's engines allow", () => {
    const lowest = lowestVersions(packageJson.engines.node);
    expect(lowest.length).toBeGreaterThan(0);
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = entry.engines?.node;
      if (path === '' || range === undefined) continue;
      for (const version of lowest) {
        if (!semver.satisfies(version, range))
          refused.push(`${path}@${entry.version} (node ${range}) refuses ${version}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it("package-lock.json agrees with package.json, and records every platform's optional packages", () => {
    const root = lock.packages['']!;
    expect(root.dependencies).toEqual(packageJson.dependencies);
    expect(root.devDependencies).toEqual(packageJson.devDependencies);
    expect(root.engines).toEqual(packageJson.engines);
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        if (resolveInLock(path, name) === undefined) missing.push(`${name} (for ${path || 'tower'})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('CI installs exactly the lock file, and npm refuses a Node outside engines', () => {
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).not.toMatch(/^npm install\b/m);
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
  });
});

describe('the docs', () => {
  const textFiles = trackedFiles().filter(
    (file) => /\.(md|ts|js|json|sh|yml|yaml|html|css)$|^\.ci\//.test(file) && file !== 'package-lock.json',
  );

  it('name no document a user of the repository does not have', () => {
    const outside = textFiles.flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, index) =>
          /\bDESIGN\.md\b|\.\.\/shared\//.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
        ),
    );
    expect(outside).toEqual([]);
  });

  it('link only to files inside the repository that exist', () => {
    const broken: string[] = [];
    for (const file of textFiles.filter((name) => name.endsWith('.md'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // a web address
        const path = normalize(join(dirname(file), target!));
        if (relative('.', path).startsWith('..') || !existsSync(join(ROOT, path)))
          broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('the default web port', () => {
  /** Ports that well-known local tools listen on by default. */
  const TAKEN: Record<number, string> = {
    3000: 'Grafana, many dev servers',
    4200: 'Angular',
    5000: 'Flask',
    5173: 'Vite',
    6006: 'TensorBoard',
    7681: 'ttyd',
    7860: 'Gradio',
    8000: 'Django, python -m http.server',
    8080: 'code-server, many servers',
    8384: 'Syncthing',
    8787: 'RStudio Server',
    8888: 'Jupyter',
    9090: 'Prometheus, Cockpit',
    9229: "Node's inspector",
    11434: 'Ollama',
  };

  it('is no common tool’s, and the README and `tower serve --help` say which it is', async () => {
    expect(TAKEN[DEFAULT_HTTP_PORT]).toBeUndefined();
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`| \`--port N\` | default ${DEFAULT_HTTP_PORT},`);
    expect(readme).toContain(`http://127.0.0.1:${DEFAULT_HTTP_PORT}/#token=`);
    const help = await runCli(join(tmpdir(), 'tower-help-unused'), ['serve', '--help']);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(new RegExp(`--port <port>[^-]*\\(default: ${DEFAULT_HTTP_PORT}\\)`));
  });
});
