/**
 * Discovery finds and never trusts. mDNS: two `tower serve` in network namespaces the test makes
 * (test/support/netns.ts), each web bound to its veth address, find each other by name, URL and
 * fingerprint; the TXT record on the wire holds no credential; a hostile advertiser's records are
 * refused; nothing found is paired. Tailscale: no tailscaled can run here, so a stand-in `tailscale`
 * program prints a recorded `status --json`, and a real Tower on 127.0.0.1 is probed. Static: the
 * list in federation.json, probed the same way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Discovery } from '../dist/federation/discovery/index.js';
import { staticSource } from '../dist/federation/discovery/static.js';
import { tailscaleSource } from '../dist/federation/discovery/tailscale.js';
import type { DiscoveryResponse } from '../dist/protocol/federation.js';
import { loadIdentity } from '../dist/state/identity.js';
import { ROOT, startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { apiJson } from './support/http.js';
import { type Lan, makeLan, type NamespacedServe, RUN_NETNS, serveIn } from './support/netns.js';

const scratch = mkdtempSync(join(tmpdir(), 'tower-discovery-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function stateDirNamed(name: string): { dir: string; fingerprint: string } {
  const dir = mkdtempSync(join(scratch, `${name}-`));
  return { dir, fingerprint: loadIdentity(dir, name).fingerprint };
}

const readToken = (stateDir: string) => readFileSync(join(stateDir, 'token'), 'utf8').trim();

describe.runIf(RUN_NETNS)('mDNS between two network namespaces', () => {
  let lan: Lan;
  const towers: { name: string; dir: string; fingerprint: string; serve: NamespacedServe; ns: string }[] = [];

  beforeAll(async () => {
    lan = makeLan();
    try {
      for (const [index, name] of ['alpha', 'beta'].entries()) {
        const { ns, address } = lan.ends[index]!;
        const { dir, fingerprint } = stateDirNamed(name);
        const serve = await serveIn(ns, dir, ['--host', address, '--port', '0']);
        towers.push({ name, dir, fingerprint, serve, ns });
      }
    } catch (error) {
      await Promise.all(towers.map((tower) => tower.serve.stop()));
      lan.destroy();
      throw error;
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(towers.map((tower) => tower.serve.stop()));
    lan?.destroy();
  });

  /** GET from inside a namespace (the test's own has no route to the veth addresses). */
  function getIn(ns: string, url: string, token?: string): { status: number; json: unknown } {
    const script = `fetch(${JSON.stringify(url)}, { headers: ${JSON.stringify(
      token ? { authorization: `Bearer ${token}` } : {},
    )} }).then(async (r) => console.log(JSON.stringify({ status: r.status, json: await r.json() })))`;
    return JSON.parse(lan.exec(ns, process.execPath, ['-e', script]));
  }

  /** A plain DNS-SD advertiser in a namespace, publishing these TXT records until killed. */
  function advertiseIn(ns: string, prefix: string, records: object[]): ChildProcess {
    const script = `
      const { Bonjour } = require('bonjour-service');
      const bonjour = new Bonjour({}, () => {});
      ${JSON.stringify(records)}.forEach((txt, i) =>
        bonjour.publish({ name: ${JSON.stringify(prefix)} + i, type: 'tower', port: 1, txt, probe: false }));
      setTimeout(() => process.exit(0), 60000);`;
    return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { cwd: ROOT, stdio: 'ignore' });
  }

  /** How many services named `prefix…` a plain browser in `ns` hears announced (started first). */
  function countIn(ns: string, prefix: string, expected: number): Promise<number> {
    const script = `
      const b = new (require('bonjour-service').Bonjour)(); const f = b.find({ type: 'tower' });
      const count = () => f.services.filter((s) => s.name.startsWith(${JSON.stringify(prefix)})).length;
      const done = () => { console.log(count()); process.exit(0); };
      f.on('up', () => count() >= ${expected} && done()); setTimeout(done, 20000);`;
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { cwd: ROOT });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    return new Promise((resolve) => child.once('exit', () => resolve(Number(out.trim()))));
  }

  const discoveryOf = (tower: (typeof towers)[number]) =>
    getIn(tower.ns, `${tower.serve.url}/api/discovery`, readToken(tower.dir)).json as DiscoveryResponse;

  it('each finds the other by name, URL and fingerprint, and neither itself', async () => {
    for (const [self, other] of [
      [towers[0]!, towers[1]!],
      [towers[1]!, towers[0]!],
    ]) {
      const found = await waitFor(
        () => discoveryOf(self).found.find((peer) => peer.found_by === 'mdns'),
        `${self.name} to find ${other.name} by mDNS`,
        20_000,
      );
      expect(found).toEqual({
        name: other.name,
        url: other.serve.url,
        fingerprint: other.fingerprint,
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        found_by: 'mdns',
      });
      const status = discoveryOf(self);
      expect(status.found.filter((peer) => peer.fingerprint === self.fingerprint)).toEqual([]);
      expect(status.sources.find((source) => source.source === 'mdns')).toEqual({
        source: 'mdns',
        enabled: true,
        error: null,
      });
    }
  }, 60_000);

  it('advertises no credential: the TXT record on the wire is name, url, fingerprint, version', () => {
    const [alpha, beta] = towers as [(typeof towers)[0], (typeof towers)[0]];
    // A plain DNS-SD browser beside alpha, reading what beta puts on the link.
    const script = `
      const { Bonjour } = require('bonjour-service');
      const bonjour = new Bonjour();
      const browser = bonjour.find({ type: 'tower' });
      setTimeout(() => {
        console.log(JSON.stringify(browser.services.map((s) => (s.rawTxt || []).map(String))));
        bonjour.destroy(); process.exit(0);
      }, 4000);`;
    const records = JSON.parse(
      lan.exec(alpha.ns, process.execPath, ['-e', script], { timeout: 15_000 }),
    ) as string[][];
    const betas = records.filter((txt) => txt.includes(`name=${beta.name}`));
    expect(betas.length).toBeGreaterThan(0);
    for (const txt of betas) {
      expect(txt.map((entry) => entry.split('=')[0]).sort()).toEqual([
        'fingerprint',
        'name',
        'url',
        'version',
      ]);
      expect(txt).toContain(`url=${beta.serve.url}`);
      expect(txt).toContain(`fingerprint=${beta.fingerprint}`);
      const wire = txt.join('\n');
      expect(wire).not.toContain(readToken(beta.dir));
      expect(wire).not.toContain(readToken(alpha.dir));
    }
  }, 30_000);

  it("refuses a hostile advertiser's records, and pairs with nothing it found", async () => {
    const [alpha, beta] = towers as [(typeof towers)[0], (typeof towers)[0]];
    // Each bad in one field only, each with its own well-formed fingerprint.
    const good = (letter: string) => `SHA256:${letter.repeat(43)}`;
    const hostile = [
      { name: 'evil\u001b[31m', url: 'http://10.1.1.1:1', fingerprint: good('A') },
      { name: 'bad-url', url: 'javascript:alert(1)', fingerprint: good('B') },
      { name: 'creds-url', url: 'http://user:pw@10.1.1.1:1', fingerprint: good('C') },
      { name: 'long', url: `http://${'a'.repeat(220)}.example:1`, fingerprint: good('D') },
      { name: 'bad-fp', url: 'http://10.1.1.1:1', fingerprint: 'SHA256:x\u0007' },
      { name: 'x'.repeat(200), url: 'http://10.1.1.1:1', fingerprint: good('F') },
    ];
    const watcher = countIn(alpha.ns, 'hostile-', hostile.length);
    const advertiser = advertiseIn(beta.ns, 'hostile-', hostile);
    try {
      // The hostile records reach alpha: a plain browser there sees them all.
      expect(await watcher).toBe(hostile.length);
      const found = discoveryOf(alpha).found;
      expect(found.map((peer) => peer.name)).toEqual([beta.name]);
    } finally {
      advertiser.kill('SIGKILL');
    }
    for (const tower of towers) {
      expect(existsSync(join(tower.dir, 'peers.json'))).toBe(false);
      const other = towers.find((candidate) => candidate !== tower)!;
      // Found is not trusted: alpha's token is still the only thing alpha's API takes.
      const refused = getIn(tower.ns, `${tower.serve.url}/api/sessions`, readToken(other.dir));
      expect(refused.status).toBe(401);
    }
  }, 60_000);

  it('a flood of advertisements is cut to a bounded list', async () => {
    const [alpha, beta] = towers as [(typeof towers)[0], (typeof towers)[0]];
    const flood = Array.from({ length: 150 }, (_, i) => ({
      name: `flood-${i}`,
      url: `http://10.9.0.${i}:7613`,
      fingerprint: `SHA256:${String(i).padStart(43, 'Q')}`,
      version: '1.0.0',
    }));
    const watcher = countIn(alpha.ns, 'flood-', flood.length);
    const advertiser = advertiseIn(beta.ns, 'flood-', flood);
    try {
      expect(await watcher).toBe(flood.length);
      const found = discoveryOf(alpha).found.filter((peer) => peer.found_by === 'mdns');
      expect(found).toHaveLength(64);
      expect(found.map((peer) => peer.name)).toContain(beta.name);
    } finally {
      advertiser.kill('SIGKILL');
    }
  }, 60_000);

  it('a Tower that stops says goodbye, and the other no longer lists it', async () => {
    const [alpha, beta] = towers as [(typeof towers)[0], (typeof towers)[0]];
    expect(discoveryOf(alpha).found.map((peer) => peer.name)).toContain(beta.name);
    await beta.serve.stop();
    await waitFor(
      () => !discoveryOf(alpha).found.some((peer) => peer.name === beta.name),
      `${alpha.name} to drop ${beta.name}`,
      10_000,
    );
  }, 30_000);
});

/** A stand-in for the vendor's `tailscale` (its daemon cannot run here): prints a recorded status. */
function standInTailscale(status: unknown): string {
  const dir = mkdtempSync(join(scratch, 'tailscale-bin-'));
  const document = join(dir, 'status.json');
  writeFileSync(document, JSON.stringify(status));
  const program = join(dir, 'tailscale');
  writeFileSync(
    program,
    `#!/bin/sh\n[ "$1 $2" = "status --json" ] || { echo "unexpected: $*" >&2; exit 2; }\ncat '${document}'\n`,
  );
  chmodSync(program, 0o755);
  return dir;
}

/** Recorded from `tailscale status --json` (trimmed): one machine runs Tower on 127.0.0.1, others not. */
function recordedStatus(): unknown {
  const peer = (host: string, ips: string[], online: boolean) => ({
    ID: `n${host}`,
    HostName: host,
    DNSName: `${host}.tail1234.ts.net.`,
    OS: 'linux',
    TailscaleIPs: ips,
    Online: online,
    Active: online,
  });
  return {
    Version: '1.76.6-t0123456789',
    BackendState: 'Running',
    Self: peer('me', ['100.64.0.1', 'fd7a:115c:a1e0::1'], true),
    Peer: {
      'nodekey:aa': peer('builder', ['127.0.0.1', 'fd7a:115c:a1e0::2'], true),
      'nodekey:bb': peer('laptop', ['127.0.0.2'], true),
      'nodekey:cc': peer('asleep', ['127.0.0.3'], false),
    },
  };
}

describe('Tailscale and static peers, probed on 127.0.0.1', () => {
  let target: TestDaemon;
  let seeker: TestDaemon;
  let targetFingerprint: string;
  let targetPort: number;

  beforeAll(async () => {
    const named = stateDirNamed('builder-tower');
    targetFingerprint = named.fingerprint;
    target = await startTestDaemon({ stateDir: named.dir });
    targetPort = Number(new URL(target.httpUrl!).port);
    const seekerDir = stateDirNamed('seeker').dir;
    writeFileSync(
      join(seekerDir, 'federation.json'),
      JSON.stringify({
        static: [
          { url: target.httpUrl },
          { url: 'http://127.0.0.1:1', name: 'gone' },
          { url: 'file:///etc/passwd', name: 'sneaky' },
        ],
      }),
    );
    const bin = standInTailscale(recordedStatus());
    seeker = await startTestDaemon({
      stateDir: seekerDir,
      serveArgs: ['--tailscale-port', String(targetPort)],
      env: { PATH: `${bin}${delimiter}${process.env.PATH}` },
    });
  }, 60_000);

  afterAll(async () => {
    await seeker?.dispose();
    await target?.dispose();
  });

  const discovery = async () =>
    (await apiJson(seeker.httpUrl!, '/api/discovery', { token: readToken(seeker.stateDir) }))
      .json as unknown as DiscoveryResponse;

  it('finds the Tower on the tailnet and the static ones; a loopback serve does no mDNS', async () => {
    const status = await waitFor(
      async () => {
        const now = await discovery();
        return now.found.some((peer) => peer.found_by === 'tailscale') && now;
      },
      'the tailnet Tower to be found',
      20_000,
    );
    const byTailscale = status.found.filter((peer) => peer.found_by === 'tailscale');
    expect(byTailscale).toEqual([
      {
        name: 'builder-tower',
        url: `http://127.0.0.1:${targetPort}`,
        fingerprint: targetFingerprint,
        version: expect.any(String),
        found_by: 'tailscale',
      },
    ]);
    const byStatic = status.found.filter((peer) => peer.found_by === 'static');
    expect(byStatic).toEqual([
      expect.objectContaining({ name: 'builder-tower', url: target.httpUrl, fingerprint: targetFingerprint }),
      { name: 'gone', url: 'http://127.0.0.1:1', fingerprint: null, version: null, found_by: 'static' },
    ]);
    const sources = Object.fromEntries(status.sources.map((source) => [source.source, source]));
    expect(sources.mdns).toEqual({ source: 'mdns', enabled: false, error: null });
    expect(sources.tailscale).toEqual({ source: 'tailscale', enabled: true, error: null });
    expect(sources.static?.error).toMatch(/federation\.json: sneaky: bad url "file:\/\/\/etc\/passwd"/);
    expect(existsSync(join(seeker.stateDir, 'peers.json'))).toBe(false);
  }, 30_000);

  it('GET /api/tower says who a Tower is, without credentials, and nothing more', async () => {
    const { status, json } = await apiJson(target.httpUrl!, '/api/tower');
    expect(status).toBe(200);
    expect(json).toEqual({
      name: 'builder-tower',
      fingerprint: targetFingerprint,
      version: expect.any(String),
    });
  });

  it('a broken tailscale fails alone, with a clear error; a Tower probing itself is left out', async () => {
    const broken = mkdtempSync(join(scratch, 'broken-tailscale-'));
    writeFileSync(
      join(broken, 'tailscale'),
      '#!/bin/sh\necho "failed to connect to local tailscaled" >&2\nexit 1\n',
    );
    chmodSync(join(broken, 'tailscale'), 0o755);
    const failing = tailscaleSource(join(broken, 'tailscale'), { ports: [targetPort] });
    await failing.start();
    await failing.close();
    expect(failing.list()).toEqual([]);
    expect(failing.error).toBe('tailscale status --json failed: failed to connect to local tailscaled');

    writeFileSync(join(broken, 'tailscale'), '#!/bin/sh\nprintf "\\033[2J not json"\n');
    const garbled = tailscaleSource(join(broken, 'tailscale'), { ports: [targetPort] });
    await garbled.start();
    await garbled.close();
    expect(garbled.error).toBe('tailscale status --json printed something that is not JSON');

    // A Tower whose tailnet names a machine that is itself finds itself there, and leaves itself out.
    const tailnet = join(standInTailscale(recordedStatus()), 'tailscale');
    const looking = (fingerprint: string) =>
      new Discovery({
        stateDir: mkdtempSync(join(scratch, 'looking-')),
        name: 'builder-tower',
        fingerprint,
        version: '0.0.0',
        mdns: null,
        tailscale: { ports: [targetPort], program: tailnet },
        warn: () => {},
      });
    const asTarget = looking(targetFingerprint);
    const asOther = looking(`SHA256:${'B'.repeat(43)}`);
    try {
      await waitFor(() => asOther.list().length > 0, 'the tailnet to be probed', 10_000);
      expect(asOther.list().map((peer) => peer.fingerprint)).toEqual([targetFingerprint]);
      await waitFor(() => asTarget.status().sources[1]?.enabled, 'the tailscale source', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(asTarget.list()).toEqual([]);
    } finally {
      await Promise.all([asTarget.close(), asOther.close()]);
    }
  });

  it('a static list too long or malformed is refused whole, with the reason', async () => {
    const dir = mkdtempSync(join(scratch, 'static-'));
    mkdirSync(dir, { recursive: true });
    const many = Array.from({ length: 65 }, (_, i) => ({ url: `http://127.0.0.1:${1000 + i}` }));
    writeFileSync(join(dir, 'federation.json'), JSON.stringify({ static: many }));
    const tooMany = staticSource(dir);
    await tooMany.start();
    await tooMany.close();
    expect(tooMany.list()).toEqual([]);
    expect(tooMany.error).toMatch(/federation\.json: static: at most 64 static peers/);

    writeFileSync(join(dir, 'federation.json'), '{"static": [ {"url": 1} ]');
    const damaged = staticSource(dir);
    await damaged.start();
    await damaged.close();
    expect(damaged.list()).toEqual([]);
    expect(damaged.error).toMatch(/federation\.json: .*JSON/);
  });
});
