/**
 * What both sides of a pairing compute alike: the identities the SPAKE2 transcript binds, and the
 * peer tokens sealed under its key (AES-256-GCM), so the tokens cross the wire only encrypted and a
 * changed byte, a swapped identity or a reflected message fails the tag.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { PeerScope } from '../protocol/federation.js';

export const PAIRING_CONTEXT = 'tower-pair-v1';

export interface PairingIdentity {
  name: string;
  /** Raw Ed25519 public key, base64. */
  public_key: string;
  /** What this side grants the other. */
  scope: PeerScope;
  /** How the other side reaches it ('' for the side that shows the code: its URL is the one dialled). */
  url: string;
}

/** RFC 9382's A and B: every field the other side will store, so a changed one fails the confirmation. */
export function identityBytes(identity: PairingIdentity): Uint8Array {
  return Buffer.from(
    JSON.stringify([PAIRING_CONTEXT, identity.name, identity.public_key, identity.scope, identity.url]),
  );
}

export type SealDirection = 'A->B' | 'B->A';

function sealKey(ke: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', ke, Buffer.alloc(0), Buffer.from(`${PAIRING_CONTEXT} seal`), 32));
}

export function sealToken(ke: Buffer, direction: SealDirection, token: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(ke), nonce);
  cipher.setAAD(Buffer.from(direction));
  const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** The token, or null when the seal does not open (another key, direction or a changed byte). */
export function openToken(ke: Buffer, direction: SealDirection, sealed: string): string | null {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < 12 + 16 + 1) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey(ke), bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(direction));
    decipher.setAuthTag(bytes.subarray(-16));
    const token = Buffer.concat([decipher.update(bytes.subarray(12, -16)), decipher.final()]).toString();
    return /^[0-9a-f]{64}$/.test(token) ? token : null;
  } catch {
    return null;
  }
}
