/**
 * Wrong tokens are throttled on the Unix socket and over HTTP (one AuthThrottle in `tower serve`): past
 * a few free failures a wrong token's answer waits, only so many may wait, and the rest are refused
 * unchecked, so a burst of guesses is mostly never checked. A right token still gets in at once, and
 * the daemon's stderr reports counts and sources at a bounded rate, never a token.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../dist/client/client.js';
import { AttemptRefused, AuthThrottle } from '../dist/state/auth-throttle.js';
import { killLeftovers, startCli } from './support/cli.js';
import { waitFor } from './support/daemon.js';
import { api } from './support/http.js';
import { RawClient, type WireMessage } from './support/raw-socket.js';

/** The defaults the daemon runs with. */
const FREE_PER_SOURCE = 20;
const WAITING_PER_SOURCE = 8;
const BURST = 100;

const scratch: string[] = [];
afterAll(() => {
  killLeftovers();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** `tower serve` with its stderr captured; resolves once the web URL is printed. */
async function serve() {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-throttle-'));
  scratch.push(stateDir);
  const running = startCli(stateDir, ['serve']);
  await waitFor(() => running.stdout().includes('#token='), 'the login URL');
  const base = /Tower web workspace: (\S+)\/#token=/.exec(running.stdout())![1]!;
  const token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
  return { stateDir, base, token, running, socketPath: join(stateDir, 'tower.sock') };
}

/** A wrong token unlike any other, so the test can look for it in the logs. */
const guess = (i: number) => `${'c0ffee'.repeat(10)}${i.toString(16).padStart(4, '0')}`;

describe('failed tokens', () => {
  it('HTTP: most of a burst of wrong tokens is refused unchecked (429); a right token still gets in', async () => {
    const daemon = await serve();
    const abort = new AbortController();
    const results: Array<{ status: number; retryAfter: string | null; body: { error: string } }> = [];
    for (let i = 0; i < BURST; i++) {
      api(daemon.base, '/api/sessions', { token: guess(i), signal: abort.signal })
        .then(async (response) => {
          const body = await response.json();
          results.push({ status: response.status, retryAfter: response.headers.get('retry-after'), body });
        })
        .catch(() => {});
    }
    // Refusals come at once; the wrong tokens past the free ones wait their turn (the last for seconds).
    await waitFor(() => results.length >= BURST - WAITING_PER_SOURCE, 'all but the waiting answers');
    const client = await TowerClient.connect({ stateDir: daemon.stateDir });
    expect(results.length).toBeLessThan(BURST); // the right token did not wait behind the wrong ones
    client.end();
    abort.abort();

    const refused = results.filter((r) => r.status === 429);
    const checked = results.filter((r) => r.status === 401);
    // A few more than free + waiting may be checked as the first waiting answers go out.
    expect(checked.length).toBeLessThanOrEqual(FREE_PER_SOURCE + WAITING_PER_SOURCE + 4);
    expect(refused.length).toBeGreaterThanOrEqual(BURST - FREE_PER_SOURCE - WAITING_PER_SOURCE - 4);
    expect(refused[0]!.body).toMatchObject({ error: 'too_many_attempts', message: expect.any(String) });
    expect(refused[0]!.retryAfter).toMatch(/^[1-9]\d*$/);

    // Reported on stderr: counts and the source, at most a line per 10 s, never a token.
    await waitFor(
      () => reportedCount(daemon.running.stderr()) === BURST,
      `a report of all ${BURST} attempts (stderr: ${daemon.running.stderr()})`,
      20_000,
    );
    const lines = daemon.running.stderr().trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines.join('\n')).toContain('127.0.0.1');
    for (let i = 0; i < BURST; i++) expect(daemon.running.stderr()).not.toContain(guess(i));
    daemon.running.child.kill('SIGTERM');
    await daemon.running.done;
  });

  it('socket: most of a burst of wrong tokens is refused unchecked (too_many_attempts)', async () => {
    const daemon = await serve();
    const clients = await Promise.all(
      Array.from({ length: BURST }, () => RawClient.connect(daemon.socketPath)),
    );
    const answers: WireMessage[] = [];
    for (const [i, client] of clients.entries()) {
      client.send({ type: 'auth', token: guess(i) });
      client
        .waitFor((m) => m.type === 'auth_result' || (m.type === 'error' && m.code === 'too_many_attempts'), {
          timeoutMs: 60_000,
        })
        .then((answer) => answers.push(answer))
        .catch(() => {});
    }
    await waitFor(() => answers.length >= BURST - WAITING_PER_SOURCE, 'all but the waiting answers');
    const checked = answers.filter((m) => m.type === 'auth_result');
    const refused = answers.filter((m) => m.type === 'error');
    expect(checked.length).toBeLessThanOrEqual(FREE_PER_SOURCE + WAITING_PER_SOURCE + 4);
    expect(refused.length).toBeGreaterThanOrEqual(BURST - FREE_PER_SOURCE - WAITING_PER_SOURCE - 4);
    expect(String(refused[0]!.message)).toMatch(/too many wrong tokens/);
    for (const client of clients) client.socket.destroy();
    // Another source (HTTP from 127.0.0.1) is not held up by the socket's wrong tokens.
    expect((await api(daemon.base, '/api/sessions', { token: daemon.token })).status).toBe(200);
    daemon.running.child.kill('SIGTERM');
    await daemon.running.done;
  });

  it('the schedule: free failures at once, then doubling delays; refused past the waiting limit', async () => {
    const lines: string[] = [];
    const throttle = new AuthThrottle({
      sourceFreeFailures: 2,
      sourceDelayMs: 5,
      sourceMaxDelayMs: 40,
      maxWaitingPerSource: 3,
      report: (line) => lines.push(line),
      reportEveryMs: 50,
    });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => throttle.sourceDelay(n))).toEqual([0, 0, 5, 10, 20, 40, 40]);
    const answers: number[] = [];
    const waits = [1, 2, 3, 4, 5].map((n) => throttle.failed('a').then(() => answers.push(n)));
    expect(() => throttle.admit('a')).toThrow(AttemptRefused); // 3 wait: 3, 4 and 5
    expect(() => throttle.admit('b')).not.toThrow();
    await Promise.all(waits);
    expect(answers).toEqual([1, 2, 3, 4, 5]); // in order, one at a time
    expect(() => throttle.admit('a')).not.toThrow();
    await waitFor(() => lines.length === 2, 'the periodic report');
    expect(lines[0]).toMatch(/^tower: 1 failed token attempt \(a: 1\)/);
    expect(lines[1]).toMatch(/^tower: 5 failed token attempts \(a: 5\), 1 of them refused unchecked/);
  });
});

/** The sum of the counts in the daemon's "tower: N failed token attempts" lines. */
function reportedCount(stderr: string): number {
  return [...stderr.matchAll(/^tower: (\d+) failed token attempts? /gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}
