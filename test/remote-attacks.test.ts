/**
 * What a box sends Tower is another machine's output: a login banner on the bridge's stdout, a hostile
 * or broken box. None of it may take down the Tower that drives the box; the box is reported down with
 * what it sent instead.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import { BoxHost } from '../dist/substrates/box-host/link.js';

const hosts: BoxHost[] = [];

/** A "box" whose `tower host bridge` is this shell script. */
function fakeBridge(script: string): BoxHost {
  const host = new BoxHost({
    box: new LocalBox('evil'),
    tower: async () => ['sh', '-c', script, 'sh'],
    backoffMs: [60_000],
  });
  hosts.push(host);
  return host;
}

afterAll(() => {
  for (const host of hosts) host.close();
});

describe('a bridge that does not speak Tower', () => {
  it.each([
    ['a login banner', 'echo "Welcome to the box"'],
    ['JSON that is not a message', 'echo null; echo 5'],
    [
      'a message with a missing payload',
      `echo '{"type":"auth_result","ok":true,"req_id":0}'; echo '{"type":"session_output","session_id":"x"}'; echo garbage`,
    ],
  ])('%s is a reason the box is down, not a crash', async (_what, script) => {
    const host = fakeBridge(`${script}; sleep 30`);
    const failed = await host.client(1000).then(
      () => null,
      (error: Error) => error.message,
    );
    expect(failed).toMatch(/cannot reach the session host on evil/);
    await sleep(100);
    const state = host.state();
    expect(state.state).toBe('down');
    if (state.state === 'down' && !script.includes('auth_result')) {
      expect(state.reason).toMatch(/not Tower's protocol/);
    }
  });
});

describe('a box whose tmux sends a line that never ends', () => {
  it('has its control channel closed, not held in memory without bound', async () => {
    const { TmuxControl } = await import('../dist/substrates/tmux/control.js');
    class EndlessBox extends LocalBox {
      override spawn(_argv: string[], options?: Parameters<LocalBox['spawn']>[1]) {
        return super.spawn(['sh', '-c', 'head -c 100000000 /dev/zero | tr "\\0" x; sleep 30'], options);
      }
    }
    const box = new EndlessBox('endless');
    const started = await TmuxControl.start(box).then(
      () => 'started',
      (error: Error) => error.message,
    );
    box.close();
    expect(started).toMatch(/longer than/);
  }, 20_000);
});
