/**
 * Upgrading over a running Tower from before the session host: the new `tower serve` finds the old
 * daemon on the socket and says what to do, instead of failing obscurely or taking it over. The old
 * build is the real one (this repository at the commit before the split), compiled here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './support/cli.js';
import { ROOT, waitFor } from './support/daemon.js';

/** The last commit whose `tower serve` held the sessions itself. */
const BEFORE_THE_HOST = '46f73d9';

describe('a daemon from before the session host', () => {
  let build: string;
  let stateDir: string;
  let old: ReturnType<typeof startCli>;

  beforeAll(() => {
    build = mkdtempSync(join(tmpdir(), 'tower-old-build-'));
    execFileSync('sh', [
      '-c',
      `git -C '${ROOT}' archive ${BEFORE_THE_HOST} bin src package.json tsconfig.json | tar -x -C '${build}'`,
    ]);
    symlinkSync(join(ROOT, 'node_modules'), join(build, 'node_modules'));
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', build], { stdio: 'ignore' });
    stateDir = mkdtempSync(join(tmpdir(), 'tower-old-state-'));
  }, 120_000);

  afterAll(() => {
    old?.child.kill('SIGKILL');
    rmSync(build, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('tower serve names it and exits; the old daemon and its sessions go on', async () => {
    old = startCli(stateDir, ['serve', '--no-http'], { bin: join(build, 'bin', 'tower.js') });
    await waitFor(
      () => old.stdout().includes('listening on'),
      `the old daemon to start: ${old.stderr()}`,
      20_000,
    );
    const spawned = await runCli(stateDir, ['spawn', '--', '/bin/sh', '-c', 'sleep 600']);
    expect(spawned.code).toBe(0);
    const serve = await runCli(stateDir, ['serve', '--no-http'], { timeoutMs: 15_000 });
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toMatch(/a Tower daemon from before the session host; stop it/);
    expect(old.child.exitCode).toBe(null);
    const ls = await runCli(stateDir, ['ls']);
    expect(ls.stdout).toContain(spawned.stdout.trim());
  });
});
