/**
 * Input to a session on a box, through a link that stalls (the box stops reading): what is typed is
 * held, in order, and delivered once the link moves again; never reordered, never left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBox } from '../dist/substrates/box/local-box.js';
import { BoxHost } from '../dist/substrates/box-host/link.js';
import { RemotePty } from '../dist/substrates/box-host/remote-pty.js';
import { TOWER_BIN } from './support/daemon.js';

const boxState = mkdtempSync(join(tmpdir(), 'tower-attack-input-'));
const host = new BoxHost({
  box: new LocalBox('stallbox'),
  tower: async () => [process.execPath, TOWER_BIN, '--state-dir', boxState],
  backoffMs: [50],
});
let stopped: number | null = null;

afterAll(() => {
  if (stopped !== null) process.kill(stopped, 'SIGCONT');
  host.close();
  try {
    execFileSync(process.execPath, [TOWER_BIN, '--state-dir', boxState, 'host', 'stop'], { stdio: 'ignore' });
  } catch {}
  rmSync(boxState, { recursive: true, force: true });
});

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function bridgePid(): number {
  const found = execFileSync('pgrep', ['-f', `${boxState} host bridge`])
    .toString()
    .trim()
    .split('\n');
  return Number(found[0]);
}

describe('input through a link that stalls', () => {
  it('arrives whole and in order once the box reads again', async () => {
    const out = join(boxState, 'typed');
    const script = `stty raw -echo; echo ready; exec cat > ${out}`;
    const pty = await RemotePty.open(host, 'stall-in', {
      command: 'sh',
      args: ['-c', script],
      cwd: '~',
      env: {},
      cols: 80,
      rows: 24,
    });
    let seen = '';
    pty.onData((chunk) => {
      seen += chunk.toString('utf8');
    });
    await until(() => seen.includes('ready'), 'the session to be ready');
    stopped = bridgePid();
    process.kill(stopped, 'SIGSTOP');
    // Past the held-input limit of the link's backlog: the rest is held by the session.
    const chunk = 32 * 1024;
    const typed: string[] = [];
    let refused = false;
    for (let i = 0; i < 64 && !refused; i++) {
      const piece = String.fromCharCode(0x41 + (i % 26)).repeat(chunk);
      try {
        pty.write(piece);
        typed.push(piece);
      } catch {
        refused = true;
      }
    }
    process.kill(stopped, 'SIGCONT');
    stopped = null;
    await sleep(500);
    const last = 'z'.repeat(100);
    pty.write(last);
    typed.push(last);
    const expected = typed.join('');
    await until(() => {
      try {
        return readFileSync(out).length >= expected.length;
      } catch {
        return false;
      }
    }, `all ${expected.length} bytes typed`).catch(() => {});
    const got = readFileSync(out, 'utf8');
    expect(got.length).toBe(expected.length);
    expect(got === expected).toBe(true);
    pty.kill();
  });
});
