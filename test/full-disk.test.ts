/**
 * A full disk degrades output persistence, never the daemon or a session: output that cannot be written
 * stays in memory, the session says so (SessionInfo.journal, a `journal` session event), writing resumes
 * and back-fills when space returns, and the daemon starts on a disk that is already full. A journal
 * budget keeps every session together within a total.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import type { SessionInfo } from '../dist/protocol/socket.js';
import { runCli } from './support/cli.js';
import { readAllOutput, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { mountSmallDisk, RUN_FULL_DISK, type SmallDisk } from './support/tmpfs.js';

const MiB = 1024 * 1024;

async function info(client: TowerClient, id: string): Promise<SessionInfo> {
  const session = (await client.list()).find((candidate) => candidate.id === id);
  if (!session) throw new Error(`no session ${id}`);
  return session;
}

describe.runIf(RUN_FULL_DISK)('a full disk', () => {
  let disk: SmallDisk | undefined;
  let daemon: TestDaemon | undefined;

  afterEach(async () => {
    await daemon?.crash();
    daemon = undefined;
    disk?.unmount();
    disk = undefined;
  });

  it('keeps the daemon and the session running; output stays readable, the gap is shown, saving resumes', async () => {
    disk = mountSmallDisk(8 * MiB);
    daemon = await startTestDaemon({ stateDir: `${disk.dir}/state`, serveArgs: ['--no-http'] });
    const client = await daemon.connect();
    const events: Array<{ event: string; session: SessionInfo }> = [];
    client.on('session_event', (message) => events.push(message));
    await client.watch();
    // On "go": 1.5 MB of output, far more than the disk will have left; then it echoes what it reads.
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', `read go; head -c 1500000 /dev/zero | tr '\\0' x; echo; echo burst-done; exec cat`],
    });
    disk.fill(16 * 1024);
    await client.write(sessionId, 'go\n');
    await waitFor(
      async () => (await info(client, sessionId)).journal.error !== null,
      'the journal to report',
    );
    const failing = await info(client, sessionId);
    expect(failing.status).toBe('running');
    expect(failing.journal.error).toMatch(/the disk is full \(ENOSPC\)/);
    expect(failing.journal.gaps.at(-1)).toMatchObject({ reason: 'not_saved', to: failing.last_offset });
    expect(events.some((e) => e.event === 'journal' && e.session.id === sessionId)).toBe(true);
    const ls = await runCli(daemon.stateDir, ['ls']);
    expect(ls.stdout).toMatch(new RegExp(`${sessionId} .*running !unsaved`));
    expect(ls.stdout).toMatch(new RegExp(`! ${sessionId}: the disk is full \\(ENOSPC\\)`));
    // Everything is still readable: it is in memory.
    await waitFor(async () => (await client.screen(sessionId)).text.includes('burst-done'), 'the burst');
    const held = await readAllOutput(client, sessionId, 0);
    expect(held.toString()).toContain('x'.repeat(1000));
    expect(held.length).toBe((await info(client, sessionId)).last_offset);
    await client.ping();

    disk.free();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await client.write(sessionId, 'space is back\n');
    await waitFor(async () => (await info(client, sessionId)).journal.error === null, 'saving to resume');
    expect((await info(client, sessionId)).journal.gaps).toEqual([]);
    expect(events.filter((e) => e.event === 'journal').length).toBe(2);

    // After a crash, the journal on disk has every byte: the back-fill closed the gap.
    await daemon.crash();
    await daemon.restart();
    const after = await daemon.connect();
    const restored = await info(after, sessionId);
    expect(restored.status).toBe('lost');
    const saved = await readAllOutput(after, sessionId, 0);
    expect(saved.toString()).toContain('space is back');
    expect(saved.length).toBe(restored.last_offset);
    after.end();
    client.end();
  });

  it('starts on a disk that is already full, listing its sessions', async () => {
    disk = mountSmallDisk(4 * MiB);
    daemon = await startTestDaemon({ stateDir: `${disk.dir}/state`, serveArgs: ['--no-http'] });
    const client = await daemon.connect();
    const { sessionId } = await client.createSession({
      shell: '/bin/sh',
      args: ['-c', 'echo before; exec sleep 60'],
    });
    await waitFor(async () => (await client.screen(sessionId)).text.includes('before'), 'first output');
    client.end();
    await daemon.crash();
    disk.fill();
    await daemon.restart();
    const again = await daemon.connect();
    const restored = await info(again, sessionId);
    expect(restored.status).toBe('lost');
    expect((await readAllOutput(again, sessionId, 0)).toString()).toContain('before');
    // New sessions still run, their output held in memory.
    const { sessionId: fresh } = await again.createSession({
      shell: '/bin/sh',
      args: ['-c', 'echo on-a-full-disk'],
    });
    await waitFor(
      async () => (await readAllOutput(again, fresh, 0)).toString().includes('on-a-full-disk'),
      'output on a full disk',
    );
    again.end();
  });
});

describe('the journal budget', () => {
  let daemon: TestDaemon | undefined;
  afterEach(async () => {
    await daemon?.dispose();
    daemon = undefined;
  });

  it('keeps all sessions together within --journal-budget-mib, dropping ended sessions first', async () => {
    daemon = await startTestDaemon({
      serveArgs: ['--no-http', '--journal-budget-mib', '2', '--log-cap-mib', '1'],
    });
    const client = await daemon.connect();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { sessionId } = await client.createSession({
        shell: '/bin/sh',
        args: ['-c', `head -c 1000000 /dev/zero | tr '\\0' '${i}'`],
      });
      ids.push(sessionId);
      await waitFor(async () => (await info(client, sessionId)).status === 'exited', 'the writer to finish');
    }
    const used = Number(
      execFileSync('du', ['-sb', `${daemon.stateDir}/sessions`])
        .toString()
        .split('\t')[0],
    );
    // 2 MiB, plus the segment each session may be writing (256 KiB at a 1 MiB cap) and small files.
    expect(used).toBeLessThanOrEqual(2 * MiB + 256 * 1024 + 64 * 1024);
    // The oldest ended session lost its oldest output first; the newest kept all of it.
    const firstOnDisk = (id: string) =>
      Number(
        readdirSync(`${daemon!.stateDir}/sessions/${id}`)
          .filter((f) => f.endsWith('.seg'))
          .sort()[0]!
          .slice(0, 16),
      );
    expect(firstOnDisk(ids[0]!)).toBeGreaterThan(0);
    expect(firstOnDisk(ids[3]!)).toBe(0);
    client.end();
  });
});
