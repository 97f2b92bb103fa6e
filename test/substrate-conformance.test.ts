/**
 * What every substrate must do (test/support/conformance.ts), run on local, sandbox with real
 * bubblewrap, and echo (substrate-conformance-remote.test.ts runs it on ssh and docker). The echo substrate (a stand-in for tests) runs nothing: the
 * checks that need a real program are skipped on it (NEEDS_A_PROGRAM); echo-substrate.test.ts has its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { SubstrateRegistry } from '../dist/substrates/registry.js';
import type { Substrate } from '../dist/substrates/types.js';
import { conformanceChecks, MAX_BYTES } from './support/conformance.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { failWithoutBwrap, HAVE_BWRAP, writeSubstrates } from './support/substrates.js';

/** The checks (by the start of their names) that run a shell script, stty, trap or real files. */
const NEEDS_A_PROGRAM = [
  'exec:',
  'streamExec: events in order',
  'probe:',
  'a PTY session resizes',
  'no byte is lost at exit',
  'kill hangs up',
  'kill ends a program',
];

const scratch = mkdtempSync(join(tmpdir(), 'tower-conformance-'));
const stateDir = join(scratch, 'state');
const workspace = join(scratch, 'workspace');
mkdirSync(stateDir, { mode: 0o700 });
mkdirSync(workspace);
writeSubstrates(stateDir, [
  { name: 'box', type: 'sandbox', network: false },
  { name: 'echo', type: 'echo' },
]);
const source = randomBytes(MAX_BYTES);
writeFileSync(join(workspace, 'random.bin'), source);

let daemon: TestDaemon;
let client: TowerClient;
const registry = new SubstrateRegistry({ stateDir });

beforeAll(async () => {
  daemon = await startTestDaemon({ stateDir, serveArgs: ['--no-http'] });
  client = await daemon.connect();
});

afterAll(async () => {
  client?.end();
  await daemon?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

failWithoutBwrap('substrate conformance on sandbox');

for (const name of ['local', 'box', 'echo']) {
  describe.runIf(name !== 'box' || HAVE_BWRAP)(`substrate ${name}`, () => {
    let substrate: Substrate;
    beforeAll(() => {
      substrate = registry.get(name);
    });
    beforeEach((context) => {
      if (name === 'echo' && NEEDS_A_PROGRAM.some((check) => context.task.name.startsWith(check))) {
        context.skip();
      }
    });

    conformanceChecks({
      name,
      substrate: () => substrate,
      client: () => client,
      cwd: workspace,
      source,
    });
  });
}
