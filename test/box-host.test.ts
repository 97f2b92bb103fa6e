/**
 * Tower's own session host on a box, reached through `tower host bridge` (here on a LocalBox: the
 * same code the ssh and docker substrates run over their links). A dropped link, and a Tower that goes
 * away and comes back, cost no byte and repeat none: the session resumes by offset.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import { BoxHost } from '../dist/substrates/box-host/link.js';
import { RemotePty } from '../dist/substrates/box-host/remote-pty.js';
import { TOWER_BIN } from './support/daemon.js';

const boxState = mkdtempSync(join(tmpdir(), 'tower-box-host-'));
const box = new LocalBox('testbox');
const hosts: BoxHost[] = [];

function boxHost(): BoxHost {
  const host = new BoxHost({
    box,
    tower: async () => [process.execPath, TOWER_BIN, '--state-dir', boxState],
    backoffMs: [50],
  });
  hosts.push(host);
  return host;
}

interface Collected {
  pty: RemotePty;
  bytes: Buffer[];
  links: string[];
  exit: Promise<{ exitCode: number; signal: number | null }>;
  text(): string;
}

function collect(pty: RemotePty): Collected {
  const bytes: Buffer[] = [];
  const links: string[] = [];
  pty.onData((chunk) => bytes.push(chunk));
  pty.onLink((link) => links.push(link.state));
  const exit = new Promise<{ exitCode: number; signal: number | null }>((resolve) => pty.onExit(resolve));
  return { pty, bytes, links, exit, text: () => Buffer.concat(bytes).toString('utf8') };
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const spec = (command: string, args: string[]) => ({
  command,
  args,
  cwd: '~',
  env: {},
  cols: 80,
  rows: 24,
});

afterAll(async () => {
  for (const host of hosts) host.close();
  try {
    execFileSync(process.execPath, [TOWER_BIN, '--state-dir', boxState, 'host', 'stop'], { stdio: 'ignore' });
  } catch {}
  rmSync(boxState, { recursive: true, force: true });
});

describe('a session in the session host of a box', () => {
  it('echoes through the bridge, and ends after its last byte', async () => {
    const host = boxHost();
    const session = collect(await RemotePty.open(host, 'bh-echo', spec('cat', [])));
    expect(session.pty.pid).toBeGreaterThan(0);
    session.pty.write('hello box\r');
    await until(() => session.text().includes('hello box'), 'the echo');
    session.pty.write('\x04');
    const exit = await session.exit;
    expect(exit.exitCode).toBe(0);
    host.close();
  });

  it('loses and repeats nothing when the link drops while the program prints', async () => {
    const host = boxHost();
    const script = 'i=0; while [ $i -lt 400 ]; do echo "line $i"; i=$((i+1)); sleep 0.005; done';
    const session = collect(await RemotePty.open(host, 'bh-drop', spec('sh', ['-c', script])));
    await until(() => session.text().includes('line 50'), 'output before the drop');
    box.drop('test: the link is cut');
    await until(() => session.links.includes('disconnected'), 'disconnected');
    await until(() => session.links.at(-1) === 'connected', 'connected again');
    const exit = await session.exit;
    expect(exit.exitCode).toBe(0);
    const seen = Buffer.concat(session.bytes);
    const lines = seen.toString('utf8').trim().split(/\r?\n/);
    expect(lines).toEqual(Array.from({ length: 400 }, (_, i) => `line ${i}`));
    host.close();
  });

  it('is read on from its offset by a new Tower, and lost when the box host died', async () => {
    const first = boxHost();
    const script = 'i=0; while [ $i -lt 300 ]; do echo "row $i"; i=$((i+1)); sleep 0.005; done; sleep 30';
    const before = collect(await RemotePty.open(first, 'bh-resume', spec('sh', ['-c', script])));
    await until(() => before.text().includes('row 40'), 'output before Tower goes away');
    first.close();
    const offset = Buffer.concat(before.bytes).length;
    await sleep(300);
    const second = boxHost();
    const after = collect(RemotePty.resume(second, 'bh-resume', 'sh', offset, { cols: 80, rows: 24 }));
    await until(() => after.text().includes('row 299'), 'the rest after resuming');
    const whole = Buffer.concat([...before.bytes, ...after.bytes]);
    expect(whole.toString('utf8').trim().split(/\r?\n/)).toEqual(
      Array.from({ length: 300 }, (_, i) => `row ${i}`),
    );
    // The box's host killed -9: its sessions die with it, and the next one reports them lost.
    const pid = Number(
      execFileSync(process.execPath, [TOWER_BIN, '--state-dir', boxState, 'host', 'status'])
        .toString()
        .match(/pid (\d+)/)?.[1],
    );
    process.kill(pid, 'SIGKILL');
    await until(() => after.links.includes('lost'), 'lost', 20_000);
    await after.exit;
    second.close();
  });
});
