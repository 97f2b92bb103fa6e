/** `tower serve`'s web flags: --no-http, --tls-cert/--tls-key, --allow-origin, --host, --port. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killLeftovers, runCli, startCli } from './support/cli.js';
import { startTestDaemon, waitFor } from './support/daemon.js';
import { api, parseSetCookie } from './support/http.js';

const scratchDirs: string[] = [];
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

afterAll(() => {
  killLeftovers();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

const tokenOf = (stateDir: string) => readFileSync(join(stateDir, 'token'), 'utf8').trim();

describe('tower serve', () => {
  it('prints the login URL after the socket line; --no-http runs the socket only', async () => {
    const dir = scratchDir('tower-serve-');
    const running = startCli(dir, ['serve']);
    await waitFor(() => running.stdout().includes('#token='), 'the login URL');
    const lines = running.stdout().split('\n');
    expect(lines[0]).toMatch(/^Session host started \(pid \d+, Tower [^)]+\); 0 running sessions adopted$/);
    expect(lines[1]).toMatch(/^Tower daemon listening on /);
    expect(lines[3]).toMatch(
      new RegExp(`^Tower web workspace: http://127\\.0\\.0\\.1:\\d+/#token=${tokenOf(dir)}$`),
    );
    expect(running.stderr()).toBe('');
    running.child.kill('SIGTERM');
    expect((await running.done).code).toBe(0);

    const socketOnly = await startTestDaemon({ serveArgs: ['--no-http'] });
    try {
      expect(socketOnly.httpUrl).toBe(null);
      const client = await socketOnly.connect();
      expect(await client.list()).toEqual([]);
      client.end();
    } finally {
      await socketOnly.dispose();
    }
  });

  it('--tls-cert/--tls-key serve HTTPS with a Secure cookie', async () => {
    const dir = scratchDir('tower-tls-');
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    const subject = ['-subj', '/CN=localhost', '-keyout', key, '-out', cert];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', ...subject], {
      stdio: 'ignore',
    });
    const secure = await startTestDaemon({ serveArgs: ['--tls-cert', cert, '--tls-key', key] });
    try {
      expect(secure.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const login = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const request = httpsRequest(
          `${secure.httpUrl}/api/login`,
          {
            method: 'POST',
            rejectUnauthorized: false,
            headers: { 'content-type': 'application/json', origin: secure.httpUrl! },
          },
          (response) => {
            response.resume();
            resolve({ status: response.statusCode!, cookie: String(response.headers['set-cookie']) });
          },
        );
        request.on('error', reject);
        request.end(JSON.stringify({ token: tokenOf(secure.stateDir) }));
      });
      expect(login.status).toBe(200);
      expect(parseSetCookie(login.cookie).attributes).toContain('secure');
    } finally {
      await secure.dispose();
    }
  });

  it('--allow-origin adds exact origins; anything else is refused at start', async () => {
    const daemon = await startTestDaemon({ serveArgs: ['--allow-origin', 'https://tower.example:8443'] });
    try {
      const base = daemon.httpUrl!;
      const login = (origin: string) =>
        api(base, '/api/login', { method: 'POST', body: { token: tokenOf(daemon.stateDir) }, origin });
      expect((await login('https://tower.example:8443')).status).toBe(200);
      expect((await login('https://tower.example')).status).toBe(403);
      expect((await login(base.replace('127.0.0.1', 'localhost'))).status).toBe(200);
    } finally {
      await daemon.dispose();
    }
    const bad = await runCli(scratchDir('tower-serve-'), [
      'serve',
      '--allow-origin',
      'https://x.example/path',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('exact origin');
  });

  it('fails clearly when the port is taken, and leaves no daemon behind', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const dir = scratchDir('tower-serve-');
      const result = await runCli(dir, ['serve', '--port', String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('cannot start the web workspace');
      // The session host it started for nothing is stopped again.
      expect((await runCli(dir, ['ls'])).code).toBe(3);
    } finally {
      blocker.close();
    }
  });

  it('warns on stderr when listening beyond loopback, and prints a loopback URL for a wildcard host', async () => {
    const running = startCli(scratchDir('tower-serve-'), ['serve', '--host', '0.0.0.0']);
    await waitFor(() => running.stdout().includes('#token='), 'the login URL');
    expect(running.stdout()).toMatch(/Tower web workspace: http:\/\/127\.0\.0\.1:\d+\/#token=/);
    await waitFor(() => running.stderr().includes('warning'), 'the warning');
    expect(running.stderr()).toContain('reachable from other machines');
    running.child.kill('SIGTERM');
    await running.done;
  });
});
