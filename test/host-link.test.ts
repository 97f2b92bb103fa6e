/**
 * The session host drops a control plane that lets 16 MiB pile up unread (a hung or stopped `tower
 * serve`). When that control plane runs again, it finds the same host still running, says so (not "the
 * session host stopped"), and attaches to it again: the sessions were never touched.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { RawClient } from './support/raw-socket.js';

describe('the link between control plane and session host', () => {
  let daemon: TestDaemon | undefined;

  afterAll(async () => {
    await daemon?.dispose();
  });

  it('a control plane the host dropped for not reading attaches again to the same host', async () => {
    daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
    const client = await daemon.connect();
    const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', 'exec sleep 600'] });
    const hostPid = daemon.hostPid();
    client.end();

    const serve = daemon.process;
    serve.kill('SIGSTOP');
    // Requests only the control plane answers are relayed to it; stopped, it reads none of them.
    const flooder = await RawClient.authenticated(daemon.socketPath, daemon.stateDir);
    const padding = 'x'.repeat(900 * 1024);
    try {
      for (let i = 0; i < 24; i++) {
        flooder.socket.write(`${JSON.stringify({ type: 'list_runtimes', req_id: i, padding })}\n`);
      }
      await waitFor(
        () => flooder.messages.some((m) => m.type === 'error' && m.code === 'control_plane_unavailable'),
        'the host to drop the control plane that does not read',
        30_000,
      );
    } finally {
      serve.kill('SIGCONT');
    }

    await waitFor(
      () => /running sessions? adopted[\s\S]*running sessions? adopted/.test(daemon!.output()),
      'the control plane to attach again',
      30_000,
    );
    const output = daemon.output();
    expect(output).toContain(`lost the connection to the session host (pid ${hostPid}, still running)`);
    expect(output).not.toContain('the session host stopped');
    expect(daemon.hostPid()).toBe(hostPid);
    const again = await daemon.connect();
    const session = (await again.list()).find((s) => s.id === sessionId);
    expect(session?.status).toBe('running');
    again.end();
    flooder.socket.destroy();
  }, 90_000);
});
