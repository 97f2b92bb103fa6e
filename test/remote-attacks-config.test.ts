/**
 * substrates.json edited while sessions run on a box (a keepalive changed, say): the substrate is made
 * anew from the new entry, and the sessions already on the box must stream on, not be left
 * disconnected for as long as this Tower runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { collectOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { failWithoutSshd, HAVE_SSHD, startSshd, type TestSshd } from './support/sshd.js';
import { writeSubstrates } from './support/substrates.js';

failWithoutSshd('substrates.json edited under running sessions');

const scratch = mkdtempSync(join(tmpdir(), 'tower-attack-config-'));
const stateDir = join(scratch, 'state');
const boxState = join(scratch, 'box-state');
mkdirSync(stateDir, { mode: 0o700 });
let sshd: TestSshd;
let daemon: TestDaemon;
let client: TowerClient;
let entry: Record<string, unknown>;

beforeAll(async () => {
  if (!HAVE_SSHD) return;
  sshd = await startSshd();
  const knownHosts = join(scratch, 'known_hosts');
  writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
  entry = {
    name: 'devbox',
    type: 'ssh',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identity: sshd.userKey,
    agent: false,
    known_hosts: knownHosts,
    keepalive_ms: 500,
    session_host: 'tower',
    state_dir: boxState,
  };
  writeSubstrates(stateDir, [entry]);
  daemon = await startTestDaemon({ stateDir, serveArgs: ['--no-http'] });
  client = await daemon.connect();
}, 120_000);

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
  try {
    execFileSync(process.execPath, ['bin/tower.js', '--state-dir', boxState, 'host', 'stop'], {
      stdio: 'ignore',
    });
  } catch {}
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe.runIf(HAVE_SSHD)('a box entry changed while its sessions run', () => {
  it('keeps them streaming', async () => {
    const { sessionId } = await client.createSession({ shell: 'cat', substrate: 'devbox', cwd: '/tmp' });
    const output = collectOutput(client, sessionId);
    await client.subscribe(sessionId, { fromOffset: 0 });
    await client.write(sessionId, 'before\r');
    await waitFor(() => output.text().includes('before'), 'the echo before the change', 20_000);
    writeSubstrates(stateDir, [{ ...entry, keepalive_ms: 700 }]);
    await client.substrates();
    await client.write(sessionId, 'after\r');
    await waitFor(() => output.text().includes('after'), 'the echo after the change', 15_000);
    const [info] = (await client.list()).filter((session) => session.id === sessionId);
    expect(info?.link?.state ?? 'connected').toBe('connected');
    await client.close(sessionId);
  }, 120_000);
});
