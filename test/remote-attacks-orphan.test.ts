/**
 * A link that fails while a session is being created on a box: the create fails here, and the session
 * the box's host may have started anyway must not run on there unseen (an agent nobody watches).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../dist/client/client.js';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import { BoxHost } from '../dist/substrates/box-host/link.js';
import { RemotePty } from '../dist/substrates/box-host/remote-pty.js';
import { TOWER_BIN } from './support/daemon.js';

const boxState = mkdtempSync(join(tmpdir(), 'tower-attack-orphan-'));

/** A box whose link can go deaf: what the box sends is lost, as on a link that hangs one way. */
class DeafBox extends LocalBox {
  deaf = false;
  override async spawn(argv: string[], options?: Parameters<LocalBox['spawn']>[1]) {
    const process = await super.spawn(argv, options);
    const stdout = new PassThrough();
    process.stdout.on('data', (chunk: Buffer) => {
      if (!this.deaf) stdout.write(chunk);
    });
    process.stdout.on('end', () => stdout.end());
    return { ...process, stdout };
  }
}

const box = new DeafBox('deafbox');
const host = new BoxHost({
  box,
  tower: async () => [process.execPath, TOWER_BIN, '--state-dir', boxState],
  backoffMs: [50],
});

afterAll(() => {
  host.close();
  try {
    execFileSync(process.execPath, [TOWER_BIN, '--state-dir', boxState, 'host', 'stop'], { stdio: 'ignore' });
  } catch {}
  rmSync(boxState, { recursive: true, force: true });
});

async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('a link that fails during create_session', () => {
  it('leaves no session running on the box', async () => {
    await host.client(15_000);
    const direct = await TowerClient.connect({ stateDir: boxState });
    const onBox = async () => (await direct.list()).find((session) => session.id === 'orphan-1');
    box.deaf = true;
    const opening = RemotePty.open(host, 'orphan-1', {
      command: 'sleep',
      args: ['600'],
      cwd: '~',
      env: {},
      cols: 80,
      rows: 24,
    }).then(
      () => 'opened',
      (error: Error) => error.message,
    );
    await until(async () => (await onBox()) !== undefined, 'the session on the box');
    host.drop();
    // The create fails once the link is gone: it does not wait on a bridge that is no more.
    const outcome = await Promise.race([opening, sleep(5000).then(() => 'still waiting')]);
    expect(outcome).toMatch(/closed the connection/);
    box.deaf = false;
    await host.client(15_000);
    await until(async () => {
      const there = await onBox();
      return there === undefined || there.status !== 'running';
    }, 'the session the create left behind to end').finally(() => direct.end());
  }, 30_000);
});
