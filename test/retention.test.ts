/** The journal's bounds, set with `tower serve --ring-mib/--log-cap-mib`: oldest output goes first, and says so. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

describe('output retention', () => {
  let daemon: TestDaemon;
  let client: TowerClient;

  beforeAll(async () => {
    daemon = await startTestDaemon({ serveArgs: ['--ring-mib', '1', '--log-cap-mib', '1'] });
    client = await daemon.connect();
  });

  afterAll(async () => {
    client?.end();
    await daemon?.dispose();
  });

  it('drops the oldest output past the cap, knows the earliest retained offset, and refuses older reads', async () => {
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: [
        '-c',
        'i=0; while [ $i -lt 40000 ]; do echo "numbered line $i of the retention test....."; i=$((i+1)); done; echo END-$((1+1)); sleep 60',
      ],
    });
    await waitFor(async () => (await client.screen(sessionId)).text.includes('END-2'), 'all output', 60_000);
    const info = (await client.list()).find((s) => s.id === sessionId)!;
    expect(info.last_offset).toBeGreaterThan(1_900_000);
    expect(info.first_offset).toBeGreaterThan(0);
    expect(info.last_offset - info.first_offset).toBeLessThanOrEqual(1024 * 1024);

    await expect(client.readOutput(sessionId, 0)).rejects.toThrow(/not retained.*held from/);
    const retained = await readAllOutput(client, sessionId, info.first_offset);
    expect(retained.length).toBe(info.last_offset - info.first_offset);
    expect(retained.toString()).toContain('END-2');

    // A subscriber asking for an offset that is gone gets a snapshot, then the bytes from its offset.
    const viewer = await daemon.connect();
    const snapshot = new Promise<{ offset: number; data: string }>((r) => viewer.once('snapshot', r));
    await viewer.subscribe(sessionId, { fromOffset: 10 });
    const got = await snapshot;
    expect(got.offset).toBe(info.last_offset);
    expect(got.data).toContain('END-2');
    viewer.end();
  });
});
