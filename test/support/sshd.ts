/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1 for one test file: its own host key, a
 * user key for this machine's user in its own authorized_keys, a free port. `kill()` and `pause()` cut
 * live links the way a crash or a dead network would; `start()` brings it back on the same port with the
 * same keys. Without sshd the tests skip, or fail under TOWER_TEST_STRICT=1 (scripts/test-setup.sh
 * installs openssh-server).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';

const SSHD = '/usr/sbin/sshd';
const STRICT = process.env.TOWER_TEST_STRICT === '1';

export const HAVE_SSHD = existsSync(SSHD) && existsSync('/usr/bin/ssh-keygen');

if (!HAVE_SSHD && !STRICT) {
  process.stderr.write('ssh tests skipped: no OpenSSH server (apt-get install -y openssh-server)\n');
}

/** Under TOWER_TEST_STRICT=1 a missing sshd fails the suite instead of skipping it. */
export function failWithoutSshd(suite: string): void {
  describe.runIf(!HAVE_SSHD && STRICT)(`${suite} (strict mode)`, () => {
    it('needs sshd', () => {
      throw new Error('no /usr/sbin/sshd: apt-get install -y openssh-server (scripts/test-setup.sh does it)');
    });
  });
}

export interface TestSshd {
  host: '127.0.0.1';
  port: number;
  user: string;
  dir: string;
  /** The private key authorized on it (no passphrase). */
  userKey: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA…`, as OpenSSH writes it. */
  knownHostsLine: string;
  /** SHA256:… of its host key, as ssh-keygen -l prints it. */
  fingerprint: string;
  /** Its log (sshd -E). */
  log(): string;
  /** The per-connection sshd processes (one set per live TCP connection). */
  connectionPids(): number[];
  /** Established TCP connections to it, counted from /proc/net/tcp. */
  connections(): number;
  /** SIGKILL the listener and every per-connection sshd: links die as in a crash. */
  kill(): void;
  /** SIGSTOP the per-connection sshds: links hang as on a cut network (TCP stays open). */
  pause(): void;
  resume(): void;
  /** Again, same port and keys. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Extra sshd_config lines. */
  config?: string[];
  /** Reuse another server's user key (a jump host and its target). */
  userKey?: string;
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'tower-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tower-test-host', '-f', hostKey]);
  let userKey = options.userKey;
  if (!userKey) {
    userKey = join(dir, 'user_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tower-test-user', '-f', userKey]);
  }
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const logFile = join(dir, 'sshd.log');
  const configFile = join(dir, 'sshd_config');
  const writeConfig = (port: number) =>
    writeFileSync(
      configFile,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'AllowTcpForwarding yes',
        'AllowStreamLocalForwarding yes',
        'LogLevel VERBOSE',
        // bash run by sshd reads ~/.bashrc unless nested (SHLVL>1); this machine's runs `pyenv init`,
        // half a second per command, which is not what these tests measure.
        'SetEnv SHLVL=1',
        ...(options.config ?? []),
        '',
      ].join('\n'),
    );
  // Another process may take the free port before sshd binds it: then another port.
  let port = 0;
  let listener: ChildProcess | null = null;
  for (let attempt = 1; !listener; attempt += 1) {
    port = await freePort();
    writeConfig(port);
    try {
      listener = await launch(configFile, logFile, port);
    } catch (error) {
      if (attempt >= 3 || !/already in use/.test((error as Error).message)) throw error;
    }
  }
  const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`], {
    encoding: 'utf8',
  }).split(/\s+/)[1] as string;
  const descendants = (): number[] => {
    if (!listener?.pid) return [];
    return childrenOf(listener.pid);
  };
  const signalConnections = (signal: NodeJS.Signals) => {
    for (const pid of descendants().filter((pid) => commandOf(pid).includes('sshd'))) {
      try {
        process.kill(pid, signal);
      } catch {}
    }
  };
  const server: TestSshd = {
    host: '127.0.0.1',
    port,
    user: userInfo().username,
    dir,
    userKey,
    knownHostsLine: `[127.0.0.1]:${port} ${type} ${key}`,
    fingerprint,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    connectionPids: () => descendants().filter((pid) => commandOf(pid).includes('sshd')),
    connections: () => establishedTo(port),
    kill() {
      signalConnections('SIGCONT');
      signalConnections('SIGKILL');
      listener?.kill('SIGKILL');
      listener = null;
    },
    pause: () => signalConnections('SIGSTOP'),
    resume: () => signalConnections('SIGCONT'),
    async start() {
      listener ??= await launch(configFile, logFile, port);
    },
    async stop() {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** sshd -D, once it listens. */
async function launch(configFile: string, logFile: string, port: number): Promise<ChildProcess> {
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const marker = `Server listening on 127.0.0.1 port ${port}`;
  const before = log().split(marker).length;
  const started = spawn(SSHD, ['-D', '-f', configFile, '-E', logFile], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (log().split(marker).length === before) {
    if (started.exitCode !== null || started.signalCode !== null) {
      throw new Error(`sshd exited at once:\n${log()}`);
    }
    if (Date.now() > deadline) {
      started.kill('SIGKILL');
      throw new Error(`sshd did not start:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return started;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function childrenOf(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  const found: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of parents.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Counted by peer: the kernel may list a socket twice when the table changes while it is read. */
function establishedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const peers = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hexPort}`) && state === '01' && remote) peers.add(remote);
  }
  return peers.size;
}
