import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { collectOutput, startTestDaemon, waitFor } from './support/daemon.js';
import { DOCKERD } from './support/dockerd.js';
import { writeSubstrates } from './support/substrates.js';

it('docker e2e', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tower-dk-'));
  const stateDir = join(scratch, 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  mkdirSync(join(scratch, 'ws'));
  writeSubstrates(stateDir, [
    {
      name: 'ctr',
      type: 'docker',
      image: DOCKERD!.image,
      docker_host: DOCKERD!.dockerHost,
      workspace: join(scratch, 'ws'),
      container: `tower-e2e-${process.pid}`,
    },
  ]);
  const daemon = await startTestDaemon({ stateDir, serveArgs: ['--no-http'] });
  const client = await daemon.connect();
  await client.substrateLifecycle('ctr', 'provision');
  await client.substrateLifecycle('ctr', 'wake');
  const t0 = Date.now();
  const { sessionId } = await client.createSession({ substrate: 'ctr', shell: '/bin/sh' });
  console.log('created in', Date.now() - t0);
  const out = collectOutput(client, sessionId);
  await client.subscribe(sessionId, { fromOffset: 0 });
  await client.write(sessionId, 'echo hi-$((1+2)); pwd\r');
  await waitFor(() => out.text().includes('hi-3'), 'echo');
  console.log(out.text());
  console.log(JSON.stringify((await client.list()).find((s) => s.id === sessionId)));
  console.log(
    JSON.stringify(
      (await client.bootstrapState('ctr')).phases.find((p) => p.name === 'tower'),
      null,
      1,
    ),
  );
  await client.close(sessionId);
  await client.substrateLifecycle('ctr', 'destroy');
  client.end();
  await daemon.stop();
  console.log(daemon.output());
}, 120_000);
