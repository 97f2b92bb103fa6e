/**
 * If the screen worker dies, sessions go on: a fresh worker takes over, live screens are rebuilt
 * from their journals, and new terminal queries are answered again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager } from '../dist/sessions/manager.js';
import { waitFor } from './support/daemon.js';

describe('screen worker restart', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-screen-restart-'));
  const manager = new SessionManager({ stateDir });

  afterAll(async () => {
    await manager.shutdown();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('rebuilds live screens and keeps answering queries after the worker is killed', async () => {
    const session = await manager.create({ command: '/bin/sh', cwd: stateDir, env: { PS1: '$ ' } });
    session.write('echo before-$((1+1))\r');
    await waitFor(async () => (await session.text()).text.includes('before-2'), 'output before the crash');

    // Kill the worker thread as a crash would.
    const host = (manager as unknown as { screen: { worker: { terminate(): Promise<number> } } }).screen;
    await host.worker.terminate();

    const text = await waitFor(async () => {
      try {
        return (await session.text()).text;
      } catch {
        return undefined;
      }
    }, 'a screen from the new worker');
    expect(text).toContain('before-2');

    // The program still runs, its new output reaches the new screen, and a query gets one answer.
    session.write(
      `node -e "process.stdin.setRawMode(true);process.stdout.write('\\x1b[6n');process.stdin.once('data',d=>{console.log('GOT',JSON.stringify(d.toString()));process.exit()})"\r`,
    );
    const answered = await waitFor(
      async () => {
        const t = (await session.text()).text;
        // Up to the shell's next prompt, so no output is still on its way when the snapshot is taken.
        return /GOT ".*R"\n\$/.test(t) && t;
      },
      'the query to be answered',
      15_000,
    );
    expect(answered).toMatch(/GOT "\\u001b\[\d+;\d+R"/);
    const snapshot = await session.snapshot();
    expect(snapshot.offset).toBe(session.journal.end);
  });

  it('when the worker keeps crashing, the screen model gives up but sessions never stall', async () => {
    const session = await manager.create({ command: '/bin/sh', cwd: stateDir });
    const host = (
      manager as unknown as { screen: { worker: { terminate(): Promise<number> }; healthy: boolean } }
    ).screen;
    for (let crash = 0; crash < 6 && host.healthy; crash++) {
      await host.worker.terminate();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(host.healthy).toBe(false);
    await expect(session.snapshot()).rejects.toThrow(/screen worker failed/);
    // 20 MB is far past the emulator lag bound: with no emulator left, nothing may pause the PTY for it.
    session.write(
      'yes 0123456789012345678901234567890123456789 | head -c 20000000; echo; echo DONE-$((40+2))\r',
    );
    await waitFor(
      () =>
        session.journal
          .read(Math.max(session.journal.start, session.journal.end - 64), 64)
          .includes('DONE-42'),
      'the flood to finish',
      60_000,
    );
    expect(session.journal.end).toBeGreaterThan(20_000_000);
  });
});
