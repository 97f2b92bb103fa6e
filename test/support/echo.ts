/**
 * Sessions on the echo substrate for fast tests: a real SessionManager (journal, screen worker,
 * subscribers) whose terminals run nothing and print back what is written to them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionManager } from '../../dist/sessions/manager.js';
import type { Session } from '../../dist/sessions/session.js';
import { ManualClock } from './manual-clock.js';
import { writeSubstrates } from './substrates.js';

export const ECHO = 'echo';

export function echoSessions(): { manager: SessionManager; stateDir: string; cleanup: () => Promise<void> } {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-echo-'));
  writeSubstrates(stateDir, [{ name: ECHO, type: 'echo' }]);
  const manager = new SessionManager({ stateDir });
  return {
    manager,
    stateDir,
    cleanup: async () => {
      await manager.shutdown();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** A program on the echo substrate that starts by printing `banner`, and a manual clock that waits for it. */
export async function puppetSession(
  manager: SessionManager,
  banner: string,
): Promise<{ session: Session; clock: ManualClock }> {
  const session = await manager.create({
    substrate: ECHO,
    command: 'stand-in',
    args: [`--echo-banner=${banner}`],
  });
  const clock = new ManualClock();
  clock.settle = () => settled(session);
  return { session, clock };
}

/**
 * Lets what the last step started finish: echoed bytes journaled and parsed, screen reads answered and
 * what they woke run. The screen worker answers in order, so a read of ours returns after theirs; a few
 * rounds cover a read that starts another.
 */
export async function settled(session: Session, rounds = 4): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    await session.text();
  }
}

/** Makes the echoed screen show `text` alone (the test plays the program). */
export function show(session: Session, text: string): void {
  session.write(`\x1b[H\x1b[2J${text.replaceAll('\n', '\r\n')}`);
}
