/**
 * This Tower's identity among peers: a name and an Ed25519 key pair, made on first use and kept in
 * <state-dir>/identity.json (0600). Peers know it by its fingerprint, `SHA256:` + base64 of the hash
 * of the raw public key, as OpenSSH shows keys.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { z } from 'zod';
import { identityPath } from './paths.js';

const IdentityFile = z.object({
  name: z.string().min(1),
  /** PKCS#8 PEM. */
  private_key: z.string(),
});

export interface Identity {
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The raw 32-byte public key, base64. */
  readonly publicKeyRaw: string;
  readonly fingerprint: string;
}

export function fingerprintOf(publicKeyRaw: string): string {
  const digest = createHash('sha256').update(Buffer.from(publicKeyRaw, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function rawPublicKey(key: KeyObject): string {
  // The last 32 bytes of the SPKI DER are the Ed25519 key itself.
  return key.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
}

/** A name for peers to call this Tower by: the host name, cut to what a peer name allows. */
export function defaultTowerName(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 63) || 'tower'
  );
}

/** The identity in the state dir, created on first use (the name from the host unless given). */
export function loadIdentity(stateDir: string, name?: string): Identity {
  const path = identityPath(stateDir);
  let file: z.infer<typeof IdentityFile>;
  try {
    file = IdentityFile.parse(JSON.parse(readFileSync(path, 'utf8')));
    if (name && name !== file.name) {
      file = { ...file, name };
      save(path, file);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(
        `${path} is damaged (${(error as Error).message.slice(0, 200)}); move it aside to make a new identity`,
      );
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    file = {
      name: name ?? defaultTowerName(),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    save(path, file);
  }
  const privateKey = createPrivateKey(file.private_key);
  const publicKey = createPublicKey(privateKey);
  const publicKeyRaw = rawPublicKey(publicKey);
  return { name: file.name, privateKey, publicKey, publicKeyRaw, fingerprint: fingerprintOf(publicKeyRaw) };
}

function save(path: string, file: z.infer<typeof IdentityFile>): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
