/**
 * Pairing's wire messages: the owner's routes (open an offer, watch it, pair with a URL) and the two
 * public routes one Tower calls on the other (start, finish: SPAKE2 then sealed tokens).
 */
import { z } from 'zod';
import { PeerScope, peerName } from './federation.js';

/** Unambiguous when read aloud or off a screen: no 0/O, 1/I/L. */
export const PAIRING_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const PAIRING_CODE_LENGTH = 8;
export const PAIRING_MAX_ATTEMPTS = 3;
export const PAIRING_DEFAULT_TTL_S = 300;

/** What a person may type: case, spaces and dashes do not matter. */
export function normalizePairingCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]+/g, '');
}

const base64 = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64')
    .refine((text) => Buffer.from(text, 'base64').length === bytes, `${bytes} bytes, base64`);

/** A token sealed under the pairing key: nonce, ciphertext and tag, base64. */
const Sealed = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64')
  .max(512);

export const PairOfferBody = z.object({
  scope: PeerScope.default('full').describe('what the Tower that pairs may do here'),
  ttl_s: z.number().int().min(1).max(3600).default(PAIRING_DEFAULT_TTL_S),
});

export const PairOffer = z.object({
  id: z.string(),
  code: z.string().describe('shown once, to be typed on the other Tower'),
  expires_at: z.string(),
  max_attempts: z.number().int(),
  scope: PeerScope,
  name: z.string().describe("this Tower's name"),
  fingerprint: z.string(),
  url: z.string(),
});

export const PairedPeer = z.object({
  name: z.string(),
  url: z.string(),
  fingerprint: z.string(),
  /** What it may do here. */
  granted: PeerScope,
  /** What it let this Tower do there. */
  given: PeerScope,
});
export type PairedPeer = z.infer<typeof PairedPeer>;

export const PairOfferState = z.object({
  state: z.enum(['open', 'paired', 'void', 'expired', 'cancelled', 'replaced']),
  attempts: z.number().int().describe('codes tried so far (each start of an exchange is one)'),
  changes: z.number().int().describe('counts changes: pass it back as seen to wait for the next'),
  max_attempts: z.number().int(),
  last_failure: z.string().nullable(),
  peer: PairedPeer.nullable(),
});
export type PairOfferState = z.infer<typeof PairOfferState>;

export const PairOfferStateQuery = z.object({
  wait_ms: z.coerce.number().int().min(0).max(20_000).default(0).describe('wait this long for a change'),
  seen: z.coerce.number().int().min(0).default(0).describe('the changes already seen'),
});

export const PairWithBody = z.object({
  url: z.string().url(),
  code: z.string().min(1).max(64),
  scope: PeerScope.default('full').describe('what the other Tower may do here'),
  advertise_url: z.string().url().optional().describe('how the other Tower reaches this one'),
});

export const PairStartBody = z.object({
  version: z.literal(1),
  name: peerName,
  public_key: base64(32),
  url: z.string().url().max(2048),
  scope: PeerScope,
  message: base64(32).describe('SPAKE2 pA'),
});

export const PairStartResponse = z.object({
  exchange: z.string().max(64),
  name: peerName,
  public_key: base64(32),
  scope: PeerScope,
  message: base64(32).describe('SPAKE2 pB'),
  confirm: base64(32).describe('cB'),
});

export const PairFinishBody = z.object({
  exchange: z.string().max(64),
  confirm: base64(32).describe('cA'),
  token: Sealed.nullable().describe("the starter's token for the other, sealed; null when cB was wrong"),
});

export const PairFinishResponse = z.object({ token: Sealed });
