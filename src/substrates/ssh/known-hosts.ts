/**
 * Host keys checked as OpenSSH does, against its known_hosts files: patterns (`host`, `[host]:port`,
 * comma lists, `*`/`?` wildcards, `!` negation), hashed names (`|1|salt|hash`), and `@revoked` keys.
 * A key that matches is known; a host known with another key of the same type is a mismatch (a possible
 * man in the middle) and is refused loudly; anything else is unknown, refused until trusted.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker: 'revoked' | null;
  patterns: string;
  type: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'known' }
  | { status: 'unknown'; otherTypes: string[] }
  | { status: 'mismatch'; known: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** `SHA256:…`, as ssh-keygen -l prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name a public key blob starts with (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa). */
export function keyType(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return length > 0 && length < 64 && key.length >= 4 + length
    ? key.toString('latin1', 4, 4 + length)
    : 'unknown';
}

/** The name known_hosts gives a host: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Tower's own file first (where `trust` writes), then the user's. */
export function defaultKnownHostsFiles(stateDir: string): string[] {
  return [join(stateDir, 'known_hosts'), join(homedir(), '.ssh', 'known_hosts')];
}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** Every usable line of these files; a file that is not there counts as empty. */
export async function readKnownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const entries: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read known_hosts file ${file}: ${(error as Error).message}`);
    }
    text.split('\n').forEach((raw, index) => {
      const entry = parseLine(raw, file, index + 1);
      if (entry) entries.push(entry);
    });
  }
  return entries;
}

function parseLine(raw: string, file: string, line: number): KnownHostEntry | null {
  const fields = raw.trim().split(/\s+/);
  if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return null;
  let marker: KnownHostEntry['marker'] = null;
  if (fields[0].startsWith('@')) {
    // @cert-authority lines sign host certificates, which Tower does not use.
    if (fields[0] !== '@revoked') return null;
    marker = 'revoked';
    fields.shift();
  }
  const [patterns, type, base64] = fields;
  if (!patterns || !type || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
  const key = Buffer.from(base64, 'base64');
  if (keyType(key) !== type) return null;
  return { file, line, marker, patterns, type, key };
}

export function checkHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const name = knownHostName(host, port);
  const matching = entries.filter((entry) => hostMatches(entry.patterns, name));
  const revoked = matching.find((entry) => entry.marker === 'revoked' && entry.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = matching.filter((entry) => entry.marker === null);
  if (plain.some((entry) => entry.key.equals(key))) return { status: 'known' };
  const type = keyType(key);
  const sameType = plain.filter((entry) => entry.type === type);
  if (sameType.length > 0) return { status: 'mismatch', known: sameType };
  return { status: 'unknown', otherTypes: [...new Set(plain.map((entry) => entry.type))] };
}

/** The key types known for this host, so the handshake asks for one of those first (as ssh does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  return [
    ...new Set(
      entries
        .filter((entry) => entry.marker === null && hostMatches(entry.patterns, name))
        .map((entry) => entry.type),
    ),
  ];
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatches(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && expected.equals(actual);
}

function wildcardMatches(pattern: string, name: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${source}$`, 'i').test(name);
}

/** Add a host's key to a known_hosts file (made 0600 with its folder 0700 when new). */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let separator = '';
  try {
    const existing = await readFile(file);
    if (existing.length > 0 && existing[existing.length - 1] !== 0x0a) separator = '\n';
  } catch {}
  const line = `${knownHostName(host, port)} ${keyType(key)} ${key.toString('base64')}\n`;
  await appendFile(file, separator + line, { mode: 0o600 });
  if (((await stat(file)).mode & 0o077) !== 0) {
    throw new Error(`${file} can be read by others: chmod 600 it (it says which keys Tower trusts)`);
  }
}

/** What a refusal says, naming the host, the fingerprints and what to do. */
export function describeVerdict(
  verdict: Exclude<HostKeyVerdict, { status: 'known' }>,
  where: { name: string; host: string; port: number; key: Buffer },
): string {
  const presented = `${keyType(where.key)} key ${fingerprint(where.key)}`;
  const target = `${where.host}:${where.port}`;
  switch (verdict.status) {
    case 'unknown': {
      const others =
        verdict.otherTypes.length > 0 ? ` (known only with ${verdict.otherTypes.join(', ')} keys)` : '';
      return (
        `host key of ${target} is not known${others}: it presents ${presented}; if that is the box's ` +
        `fingerprint, accept it with: tower substrates trust ${where.name}`
      );
    }
    case 'mismatch': {
      const known = verdict.known.map((entry) => `${fingerprint(entry.key)} (${entry.file}:${entry.line})`);
      return (
        `host key mismatch for ${target}: POSSIBLE MAN-IN-THE-MIDDLE ATTACK, or the box's key was changed: ` +
        `it presents ${presented}, known_hosts has ${known.join(', ')}; refusing to connect. If the change ` +
        `is expected, remove the old line (ssh-keygen -R '${knownHostName(where.host, where.port)}' -f FILE) ` +
        `and run: tower substrates trust ${where.name}`
      );
    }
    case 'revoked':
      return (
        `host key of ${target} is revoked (${verdict.entry.file}:${verdict.entry.line}): it presents ` +
        `${presented}; refusing to connect`
      );
  }
}
