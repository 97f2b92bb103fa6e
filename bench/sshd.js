/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1 for the remote benchmarks: its own host
 * key, a user key for this machine's user, a free port; the same setup as test/support/sshd.ts (which
 * is TypeScript the bench cannot import). `stop()` ends it and removes its files.
 *
 * The box is this machine as this user, but with a HOME and TMUX_TMPDIR of its own (sshd's SetEnv
 * overrides the passwd home): the session host Tower bootstraps there (~/.tower/box) and its tmux
 * server are the benchmark's alone, never those of tests that reach this machine over ssh meanwhile.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const SSHD = '/usr/sbin/sshd';

export const HAVE_SSHD = existsSync(SSHD) && existsSync('/usr/bin/ssh-keygen') && existsSync('/usr/bin/ssh');

export async function startSshd() {
  if (!HAVE_SSHD) throw new Error('no OpenSSH server or client here: apt-get install -y openssh-server');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'tower-bench-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'user_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tower-bench-host', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tower-bench-user', '-f', userKey]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const home = join(dir, 'home');
  const tmuxDir = join(dir, 'tmux');
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(tmuxDir, { mode: 0o700 });
  const port = await freePort();
  const configFile = join(dir, 'sshd_config');
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
      // Many sessions over one connection (the box's tmux or host channels) and 50 references at once.
      'MaxSessions 200',
      'MaxStartups 200',
      // bash run by sshd reads ~/.bashrc unless nested; this machine's runs `pyenv init`, half a second
      // per command, which is not what the benchmarks measure (test/support/sshd.ts does the same).
      // One line: sshd keeps the first SetEnv only.
      `SetEnv SHLVL=1 HOME=${home} TMUX_TMPDIR=${tmuxDir}`,
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'sshd.log');
  const listener = spawn(SSHD, ['-D', '-f', configFile, '-E', logFile], { stdio: 'ignore' });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + 20_000;
  while (!log().includes(`Server listening on 127.0.0.1 port ${port}`)) {
    if (listener.exitCode !== null || Date.now() > deadline) {
      listener.kill('SIGKILL');
      throw new Error(`sshd did not start:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${key}\n`);
  const user = userInfo().username;
  return {
    port,
    user,
    /** The box user's HOME and TMUX_TMPDIR, as sessions over this server see them. */
    home,
    tmuxDir,
    userKey,
    knownHosts,
    /** `ssh -tt … user@127.0.0.1 command` as argv (-T without `tty`), checking the same host key. */
    sshArgv(command, { tty = true } = {}) {
      return [
        'ssh',
        tty ? '-tt' : '-T',
        '-p',
        String(port),
        '-i',
        userKey,
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'LogLevel=ERROR',
        `${user}@127.0.0.1`,
        command,
      ];
    },
    /** The substrates.json entry of a box on this server. */
    substrate(name, extra = {}) {
      return {
        name,
        type: 'ssh',
        host: '127.0.0.1',
        port,
        user,
        identity: userKey,
        agent: false,
        known_hosts: knownHosts,
        ...extra,
      };
    },
    async stop() {
      if (listener.exitCode === null) {
        const exited = new Promise((resolve) => listener.once('exit', resolve));
        listener.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
