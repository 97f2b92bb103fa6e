/**
 * The screen model is the journal's last reader: it may lag during a burst, but it never holds the
 * program back, a snapshot waits for it to catch up, and what happened between bytes (a resize) reaches
 * it between the same bytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionManager } from '../dist/sessions/manager.js';
import { waitFor } from './support/daemon.js';

type ScreenOp = (id: string, ...args: never[]) => unknown;

describe('a lagging screen model', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-screen-lag-'));
  const manager = new SessionManager({ stateDir });
  const screen = (manager as unknown as { screen: Record<string, ScreenOp> }).screen;
  /**
   * Everything for these sessions is held back in order, as if the emulator got no CPU at all: what
   * was posted to it, how much it has parsed (nothing), and what it answers.
   */
  const held = new Map<string, Array<() => void>>();
  let posted = 0;
  for (const name of ['write', 'resize', 'text', 'snapshot']) {
    const real = screen[name]!.bind(screen) as (...args: unknown[]) => unknown;
    screen[name] = ((id: string, ...args: unknown[]) => {
      const queue = held.get(id);
      if (!queue) return real(id, ...args);
      if (name === 'write') {
        args[0] = new Uint8Array(args[0] as Uint8Array);
        posted += (args[0] as Uint8Array).length;
      }
      if (name === 'write' || name === 'resize') {
        queue.push(() => real(id, ...args));
        return undefined;
      }
      return new Promise((resolve, reject) =>
        queue.push(() => (real(id, ...args) as Promise<unknown>).then(resolve, reject)),
      );
    }) as ScreenOp;
  }
  const release = (id: string) => {
    const queue = held.get(id) ?? [];
    held.delete(id);
    for (const step of queue) step();
  };

  afterAll(async () => {
    await manager.shutdown();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('never holds the program back: 20 MB written while the screen parses nothing', async () => {
    const bytes = 20_000_000;
    const session = await manager.create({
      command: '/bin/sh',
      args: [
        '-c',
        `sleep 0.2; yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c ${bytes}; printf '\\nLAST LINE'`,
      ],
      cwd: stateDir,
    });
    held.set(session.id, []);
    posted = 0;
    const exited = new Promise((resolve) => session.once('exit', resolve));
    await exited;
    expect(session.journal.end).toBeGreaterThan(bytes);
    // Only a window of it was handed to the emulator meanwhile: the lag costs bounded memory.
    expect(posted).toBeLessThanOrEqual(1024 * 1024);

    // A snapshot waits for the screen to catch up (a second at most; on a busy machine it may take
    // longer, and the screen then names the earlier offset it is exact as of).
    const text = session.text();
    release(session.id);
    expect((await text).offset).toBeGreaterThan(posted);
    const caughtUp = await waitFor(async () => {
      const latest = await session.text();
      return latest.offset === session.journal.end && latest;
    }, 'the screen to catch up');
    expect(caughtUp.text).toMatch(/LAST LINE$/);
  }, 60_000);

  it('applies a resize after the bytes written before it, however late it parses them', async () => {
    // More than the emulator is handed at once, so the resize comes while bytes before it wait.
    const script = `yes line | head -c 2000000; printf '\\033[70GX\\r\\n'; sleep 30`;
    const texts: string[] = [];
    for (const lagging of [false, true]) {
      const session = await manager.create({ command: '/bin/sh', args: ['-c', script], cwd: stateDir });
      if (lagging) held.set(session.id, []);
      // 400000 lines of `line\r\n`, then ESC [70G X \r \r\n.
      await waitFor(() => session.journal.end >= 2_400_009, 'the lines written');
      if (!lagging) await session.text();
      session.resize(40, 24);
      if (lagging) setTimeout(() => release(session.id), 100);
      texts.push((await session.text()).text);
      session.kill('SIGKILL');
    }
    expect(texts[0]).toContain('X');
    expect(texts[1]).toBe(texts[0]);
  }, 30_000);
});
