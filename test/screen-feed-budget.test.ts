/**
 * The journal budget may drop a running session's oldest output before the lagging screen model has
 * read it: the screen steps over it and goes on, and the program is not held back for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager } from '../dist/sessions/manager.js';

const MiB = 1024 * 1024;

describe('a screen model behind output the journal budget dropped', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-screen-budget-'));
  // Segments of 2 MiB, the program paused past a 4 MiB lag, and at most 3 MiB on disk in all.
  const manager = new SessionManager({
    stateDir,
    ringBytes: 1 * MiB,
    diskCapBytes: 8 * MiB,
    journalBudgetBytes: 3 * MiB,
  });

  afterAll(async () => {
    await manager.shutdown();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('does not pause the program forever', async () => {
    const session = await manager.create({
      command: '/bin/sh',
      args: ['-c', `yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 30000000; printf '\\nDONE'`],
      cwd: stateDir,
    });
    const exited = await Promise.race([
      new Promise((resolve) => session.once('exit', () => resolve(true))),
      new Promise((resolve) => setTimeout(() => resolve(false), 15_000)),
    ]);
    expect({ exited, end: session.journal.end, lag: session.screenLag }).toMatchObject({ exited: true });
    expect((await session.text()).text).toMatch(/DONE$/);
  }, 30_000);
});
