/**
 * Status read from OSC sequences in a program's own output (Codex's OSC 7501), on a real PTY: a
 * sequence split across two writes still counts, and `idle` only means ready, never a turn's end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codex } from '../dist/agents/runtimes/codex.js';
import { type StatusChange, StatusTracker } from '../dist/agents/status.js';
import { SessionManager } from '../dist/sessions/manager.js';
import { waitFor } from './support/daemon.js';

const stateDir = mkdtempSync(join(tmpdir(), 'tower-status-osc-'));
const manager = new SessionManager({ stateDir });

afterAll(async () => {
  await manager.shutdown();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Runs `script` (sh) on a PTY with a tracker that reads it as Codex; returns the states it went through. */
async function track(script: string) {
  const session = await manager.create({ command: '/bin/sh', args: ['-c', script], cwd: stateDir });
  const changes: StatusChange[] = [];
  new StatusTracker(session, codex, (change) => changes.push(change));
  return {
    session,
    changes,
    states: () => changes.map((change) => `${change.status.state}:${change.status.source}`),
  };
}

const ST = '\\033\\\\';

describe('OSC status signals', () => {
  it('reads a sequence split across two writes, and ends a turn only on done', async () => {
    const { changes, states } = await track(
      `printf '\\033]7501;state=idle:app=codex${ST}'; sleep 0.3;` +
        `printf '\\033]7501;sta'; sleep 0.3; printf 'te=working:app=codex${ST}'; sleep 0.3;` +
        `printf '\\033]7501;state=idle:app=codex${ST}'; sleep 0.3;` +
        `printf '\\033]7501;state=blocked:app=codex:kind=permission${ST}'; sleep 0.3;` +
        `printf '\\033]7501;state=working:app=codex${ST}'; sleep 0.3;` +
        `printf '\\033]7501;state=done:app=codex${ST}'; sleep 5`,
    );
    await waitFor(() => changes.length >= 5, 'five status changes', 10_000);
    // idle while working is ignored; idle from starting says ready.
    expect(states().slice(0, 5)).toEqual(['idle:osc', 'busy:osc', 'needs_input:osc', 'busy:osc', 'idle:osc']);
    expect(changes[0]!.status.reason).toBe('ready');
    expect(changes[4]!.status.reason).toBe('turn finished');
  });

  it('ignores OSC sequences that say nothing about status, and text that only looks like one', async () => {
    const { changes, states } = await track(
      `printf '\\033]0;a title\\007\\033]9;a notification\\007'; printf 'state=working:app=codex\\n'; sleep 0.3;` +
        `printf '\\033]7501;state=blocked:app=codex:kind=permission\\007'; sleep 5`,
    );
    await waitFor(
      () => changes.some((change) => change.status.state === 'needs_input'),
      'needs_input',
      10_000,
    );
    expect(states()).not.toContain('busy:osc');
    expect(states()[states().length - 1]).toBe('needs_input:osc');
  });
});
