/**
 * Host keys of ssh substrates, against Debian's real sshd and OpenSSH's own files: an unknown key is
 * refused naming host:port and its SHA256 fingerprint (as ssh-keygen prints it) and how to accept it; a
 * different key is refused loudly with both fingerprints; hashed (ssh-keygen -H) and pattern entries
 * match as in OpenSSH; @revoked refuses; `trust` adds only what was confirmed (the jump host's too), from
 * the function and from `tower substrates trust` through the daemon. Also: the config schema's errors,
 * and the registry keeping an unchanged substrate (and its connection) across edits of substrates.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSubstratesFile } from '../dist/substrates/config.js';
import { SubstrateRegistry } from '../dist/substrates/registry.js';
import { SshConfig } from '../dist/substrates/ssh/config.js';
import { SshBox } from '../dist/substrates/ssh/connection.js';
import type { SshSubstrate } from '../dist/substrates/ssh/index.js';
import { checkHostKey, fingerprint, readKnownHosts } from '../dist/substrates/ssh/known-hosts.js';
import { trustHostKey } from '../dist/substrates/ssh/trust.js';
import { runCli } from './support/cli.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { failWithoutSshd, HAVE_SSHD, startSshd, type TestSshd } from './support/sshd.js';
import { writeSubstrates } from './support/substrates.js';

failWithoutSshd('ssh known_hosts');

const scratch = mkdtempSync(join(tmpdir(), 'tower-ssh-hosts-'));
let dirs = 0;
const newStateDir = () => mkdtempSync(join(scratch, `state-${dirs++}-`));

function entry(sshd: TestSshd, extra: Record<string, unknown> = {}) {
  return {
    name: 'box',
    type: 'ssh',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identity: sshd.userKey,
    agent: false,
    ...extra,
  };
}

/** A fresh box's link once its first attempt settled. */
async function firstLink(sshd: TestSshd, stateDir: string, extra: Record<string, unknown> = {}) {
  const box = new SshBox(SshConfig.parse(entry(sshd, extra)), { stateDir, downRetryMs: 60_000 });
  const error = await box.whenUp(10_000).then(
    () => null,
    (failure: Error) => failure,
  );
  const link = box.link();
  box.close();
  return { link, error };
}

/** Another ed25519 public key line, for a box that "changed its key". */
function otherKey(): string {
  const file = join(scratch, `other-${dirs++}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('ssh substrate settings', () => {
  it('defaults, and errors naming the field', () => {
    const good = parseSubstratesFile(
      JSON.stringify({ substrates: [{ name: 'dev', type: 'ssh', host: 'example.org', user: 'me' }] }),
    );
    expect(good.error).toBeNull();
    expect(good.substrates[0]).toMatchObject({ port: 22, keepalive_ms: 1000, session_host: 'auto' });
    const bad = parseSubstratesFile(
      JSON.stringify({
        substrates: [
          { name: 'a', type: 'ssh', host: 'h' },
          { name: 'b', type: 'ssh', host: 'h', user: 'u', port: 70000 },
          { name: 'c', type: 'ssh', host: 'h', user: 'u', password: 'x' },
          { name: 'd', type: 'ssh', host: '-oProxyCommand=x', user: 'u' },
          { name: 'e', type: 'ssh', host: 'h', user: 'u', jump: { host: 'j', user: 'u', via: 1 } },
        ],
      }),
    );
    expect(bad.substrates).toEqual([]);
    expect(bad.error).toMatch(/substrates\.0\.user: /);
    expect(bad.error).toMatch(/substrates\.1\.port: /);
    expect(bad.error).toMatch(/substrates\.2(\.password)?: .*password/);
    expect(bad.error).toMatch(/substrates\.3\.host: a host name/);
    expect(bad.error).toMatch(/substrates\.4\.jump(\.via)?: .*via/);
  });
});

describe('known_hosts matching', () => {
  const key = Buffer.from(otherKey().split(' ')[1] as string, 'base64');
  const line = (patterns: string) => `${patterns} ssh-ed25519 ${key.toString('base64')}\n`;
  const verdict = async (text: string, host: string, port: number) => {
    const file = join(scratch, `kh-${dirs++}`);
    writeFileSync(file, text);
    return checkHostKey(await readKnownHosts([file]), host, port, key).status;
  };

  it('plain, [host]:port, comma lists, wildcards and negation', async () => {
    expect(await verdict(line('box.example'), 'box.example', 22)).toBe('known');
    expect(await verdict(line('box.example'), 'box.example', 2222)).toBe('unknown');
    expect(await verdict(line('[box.example]:2222'), 'box.example', 2222)).toBe('known');
    expect(await verdict(line('a.example,[box.example]:2222,b'), 'box.example', 2222)).toBe('known');
    expect(await verdict(line('*.example'), 'BOX.example', 22)).toBe('known');
    expect(await verdict(line('*.example,!box.example'), 'box.example', 22)).toBe('unknown');
    expect(await verdict(`# comment\n\ngarbage\n${line('box.example')}`, 'box.example', 22)).toBe('known');
  });

  it('hashed entries as ssh-keygen -H writes them; @revoked', async () => {
    const file = join(scratch, 'hashed');
    writeFileSync(file, line('[box.example]:2222'));
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = readFileSync(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(await verdict(hashed, 'box.example', 2222)).toBe('known');
    expect(await verdict(hashed, 'box.example', 22)).toBe('unknown');
    expect(
      await verdict(
        `@revoked * ssh-ed25519 ${key.toString('base64')}\n${line('box.example')}`,
        'box.example',
        22,
      ),
    ).toBe('revoked');
  });
});

describe.runIf(HAVE_SSHD)('host keys of a real sshd', () => {
  let sshd: TestSshd;
  let jump: TestSshd;

  beforeAll(async () => {
    sshd = await startSshd();
    jump = await startSshd({ userKey: sshd.userKey });
  });

  afterAll(async () => {
    await sshd?.stop();
    await jump?.stop();
  });

  it('the fingerprint is the one ssh-keygen prints', () => {
    const key = Buffer.from(sshd.knownHostsLine.split(' ')[2] as string, 'base64');
    expect(fingerprint(key)).toBe(sshd.fingerprint);
  });

  it('an unknown key is refused, naming host:port, its fingerprint and how to accept it', async () => {
    const { link, error } = await firstLink(sshd, newStateDir(), { known_hosts: join(scratch, 'absent') });
    expect(link.state).toBe('down');
    const reason = 'reason' in link ? link.reason : '';
    expect(reason).toContain(`127.0.0.1:${sshd.port}`);
    expect(reason).toContain(sshd.fingerprint);
    expect(reason).toContain('tower substrates trust box');
    expect(error?.message).toContain(sshd.fingerprint);
  });

  it('a different key is refused loudly, naming both fingerprints', async () => {
    const stateDir = newStateDir();
    const old = otherKey();
    writeFileSync(join(stateDir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${old}\n`);
    const { link } = await firstLink(sshd, stateDir);
    const reason = 'reason' in link ? link.reason : '';
    expect(link.state).toBe('down');
    expect(reason).toMatch(/host key mismatch .*MAN-IN-THE-MIDDLE/);
    expect(reason).toContain(sshd.fingerprint);
    expect(reason).toContain(fingerprint(Buffer.from(old.split(' ')[1] as string, 'base64')));
    expect(reason).toContain(`${join(stateDir, 'known_hosts')}:1`);
  });

  it('a hashed entry, and a revoked key', async () => {
    const stateDir = newStateDir();
    const file = join(stateDir, 'known_hosts');
    writeFileSync(file, `${sshd.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    expect((await firstLink(sshd, stateDir)).link).toEqual({ state: 'up' });
    const key = sshd.knownHostsLine.split(' ').slice(1).join(' ');
    writeFileSync(file, `@revoked * ${key}\n${sshd.knownHostsLine}\n`);
    expect(JSON.stringify((await firstLink(sshd, stateDir)).link)).toMatch(/down.*revoked/);
  });

  it('trust adds only the confirmed key, then the box connects', async () => {
    const stateDir = newStateDir();
    const config = SshConfig.parse(entry(sshd));
    const box = new SshBox(config, { stateDir, downRetryMs: 60_000 });
    await expect(box.whenUp(10_000)).rejects.toThrow(/not known/);
    const asked = await trustHostKey(stateDir, config);
    expect(asked.keys).toEqual([
      {
        role: 'box',
        host: '127.0.0.1',
        port: sshd.port,
        type: 'ssh-ed25519',
        fingerprint: sshd.fingerprint,
        status: 'unknown',
      },
    ]);
    expect(existsSync(join(stateDir, 'known_hosts'))).toBe(false);
    const wrong = await trustHostKey(stateDir, config, ['SHA256:not-this-one']);
    expect(wrong.keys[0]?.status).toBe('unknown');
    const trusted = await trustHostKey(stateDir, config, [sshd.fingerprint]);
    expect(trusted.keys[0]?.status).toBe('trusted');
    expect(trusted.file).toBe(join(stateDir, 'known_hosts'));
    expect(readFileSync(trusted.file, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);
    expect(statSync(trusted.file).mode & 0o777).toBe(0o600);
    expect((await trustHostKey(stateDir, config)).keys[0]?.status).toBe('known');
    await box.whenUp(10_000);
    box.close();
  });

  it('trust through a jump host: the jump host first, then the box', async () => {
    const stateDir = newStateDir();
    const config = SshConfig.parse(entry(sshd, { jump: { host: jump.host, port: jump.port } }));
    const first = await trustHostKey(stateDir, config);
    expect(first.keys).toMatchObject([
      { role: 'jump', port: jump.port, fingerprint: jump.fingerprint, status: 'unknown' },
    ]);
    const second = await trustHostKey(stateDir, config, [jump.fingerprint]);
    expect(second.keys).toMatchObject([
      { role: 'jump', status: 'trusted' },
      { role: 'box', port: sshd.port, fingerprint: sshd.fingerprint, status: 'unknown' },
    ]);
    const third = await trustHostKey(stateDir, config, [sshd.fingerprint]);
    expect(third.keys.map((key) => key.status)).toEqual(['known', 'trusted']);
    expect((await firstLink(sshd, stateDir, { jump: { host: jump.host, port: jump.port } })).link).toEqual({
      state: 'up',
    });
  });

  it('a mismatch is never overwritten by trust', async () => {
    const stateDir = newStateDir();
    writeFileSync(join(stateDir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${otherKey()}\n`);
    await expect(trustHostKey(stateDir, SshConfig.parse(entry(sshd)), [sshd.fingerprint])).rejects.toThrow(
      /mismatch/,
    );
  });

  it('the registry keeps an unchanged substrate across edits, closes a changed one', async () => {
    const stateDir = newStateDir();
    writeFileSync(join(stateDir, 'known_hosts'), `${sshd.knownHostsLine}\n`);
    const registry = new SubstrateRegistry({ stateDir });
    writeSubstrates(stateDir, [entry(sshd), { name: 'other', type: 'echo' }]);
    const first = registry.get('box') as SshSubstrate;
    expect(await first.state()).toEqual({ state: 'ready', reason: null });
    writeSubstrates(stateDir, [entry(sshd)]);
    expect(registry.get('box')).toBe(first);
    writeSubstrates(stateDir, [entry(sshd, { keepalive_ms: 2000 })]);
    const second = registry.get('box') as SshSubstrate;
    expect(second).not.toBe(first);
    expect(first.box.link()).toEqual({ state: 'closed' });
    registry.close();
    expect(second.box.link()).toEqual({ state: 'closed' });
  });

  describe('`tower substrates trust` through the daemon', () => {
    let daemon: TestDaemon;
    const stateDir = newStateDir();

    beforeAll(async () => {
      writeSubstrates(stateDir, [entry(sshd)]);
      daemon = await startTestDaemon({ stateDir });
    });

    afterAll(async () => {
      await daemon?.stop();
    });

    it('shows the fingerprint, asks, and trusts only with --yes', async () => {
      const listed = await runCli(stateDir, ['substrates']);
      expect(listed.stdout).toMatch(/box +ssh +error .*not known/);
      expect(listed.stdout).toContain(sshd.fingerprint);

      const refused = await runCli(stateDir, ['substrates', 'trust', 'box']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(`127.0.0.1:${sshd.port} ssh-ed25519 ${sshd.fingerprint} is not known`);
      expect(refused.stderr).toMatch(/not trusted.*--yes/);
      expect(existsSync(join(stateDir, 'known_hosts'))).toBe(false);

      const accepted = await runCli(stateDir, ['substrates', 'trust', 'box', '--yes']);
      expect(accepted.code).toBe(0);
      expect(accepted.stdout).toContain(`trusted 127.0.0.1:${sshd.port} ssh-ed25519 ${sshd.fingerprint}`);
      expect(readFileSync(join(stateDir, 'known_hosts'), 'utf8')).toBe(`${sshd.knownHostsLine}\n`);
      await waitFor(
        async () => /box +ssh +ready/.test((await runCli(stateDir, ['substrates'])).stdout),
        'ready',
      );

      const unknown = await runCli(stateDir, ['substrates', 'trust', 'nope', '--yes']);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toMatch(/unknown substrate: nope/);
    });
  });
});
