/**
 * Substrates for tests: substrates.json in a state dir, and whether real bubblewrap can make a sandbox
 * here. Without it the sandbox tests skip, or fail under TOWER_TEST_STRICT=1 (scripts/test-setup.sh
 * installs it).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';

const STRICT = process.env.TOWER_TEST_STRICT === '1';

function bwrapWorks(): boolean {
  const run = spawnSync(
    'bwrap',
    ['--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', 'true'],
    {
      stdio: 'ignore',
      timeout: 10_000,
    },
  );
  return run.status === 0;
}

export const HAVE_BWRAP = bwrapWorks();

if (!HAVE_BWRAP && !STRICT) {
  process.stderr.write(
    'sandbox tests skipped: bwrap is missing or cannot make namespaces (apt-get install -y bubblewrap)\n',
  );
}

/** Under TOWER_TEST_STRICT=1 a missing bwrap fails the suite instead of skipping it. */
export function failWithoutBwrap(suite: string): void {
  describe.runIf(!HAVE_BWRAP && STRICT)(`${suite} (strict mode)`, () => {
    it('needs bubblewrap', () => {
      throw new Error(
        'bwrap is missing or cannot make a sandbox: apt-get install -y bubblewrap (scripts/test-setup.sh does it)',
      );
    });
  });
}

export function writeSubstrates(stateDir: string, substrates: unknown[] | string): void {
  const text = typeof substrates === 'string' ? substrates : JSON.stringify({ substrates }, null, 2);
  writeFileSync(join(stateDir, 'substrates.json'), text);
}
