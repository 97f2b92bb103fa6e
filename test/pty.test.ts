/** The PTY layer delivers every byte before it reports exit, however the stream ends. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type PtyExit, spawnPty } from '../dist/terminal/pty.js';

function run(script: string, options: { pauseFor?: number } = {}) {
  const child = spawnPty({
    command: '/bin/sh',
    args: ['-c', script],
    cwd: '/tmp',
    env: process.env as Record<string, string>,
    cols: 80,
    rows: 24,
  });
  const chunks: Buffer[] = [];
  child.onData((chunk) => chunks.push(chunk));
  if (options.pauseFor) {
    child.pause();
    setTimeout(() => child.resume(), options.pauseFor);
  }
  return new Promise<{ data: Buffer; exit: PtyExit }>((resolve) => {
    child.onExit((exit) => resolve({ data: Buffer.concat(chunks), exit }));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const expected = (bytes: number) => Buffer.alloc(bytes, 'x');

describe('spawnPty', () => {
  it('delivers everything written while the reader was paused past the exit (node-pty destroys at 200 ms)', async () => {
    // The program writes more than the kernel buffers hold, so it finishes only once reading resumes;
    // then it writes a tail and exits while nothing reads for 600 ms.
    const { data, exit } = await run(
      "stty raw -echo; head -c 300000 /dev/zero | tr '\\0' x; sleep 0.2; head -c 3000 /dev/zero | tr '\\0' x; exit 5",
      { pauseFor: 100 },
    );
    expect(exit.exitCode).toBe(5);
    expect(data.length).toBe(303000);
    expect(sha(data)).toBe(sha(expected(303000)));
  });

  it('delivers the tail of a program that exits while its reader is paused', async () => {
    const { data } = await run("stty raw -echo; head -c 20000 /dev/zero | tr '\\0' x", { pauseFor: 600 });
    expect(data.length).toBe(20000);
  });

  it('reports the exit code and the signal', async () => {
    expect((await run('exit 3')).exit).toEqual({ exitCode: 3, signal: null });
    expect((await run('kill -KILL $$')).exit.signal).toBe(9);
  });
});
