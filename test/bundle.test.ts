/**
 * The copy of Tower that bootstrap unpacks on a box, run on its own, where no other package can be
 * found: the CLI starts, so nothing it loads at start needs a package the bundle leaves out (ws, for
 * one, is not in it). Unpacked under a fresh temporary directory, with no node_modules above it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildBundle } from '../dist/substrates/bootstrap/bundle.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

it('the bundle for a box starts on its own: tower --version and host --help', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tower-bundle-'));
  try {
    const bundle = await buildBundle(join(dir, 'cache'));
    const root = join(dir, 'root');
    mkdirSync(root);
    execFileSync('tar', ['-xzf', bundle.path, '-C', root]);
    const run = (...args: string[]) =>
      execFileSync(process.execPath, ['bin/tower.js', ...args], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    expect(run('--version').trim()).toBe(version);
    expect(run('host', '--help')).toContain('session host');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
