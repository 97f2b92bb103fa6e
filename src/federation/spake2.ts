/**
 * SPAKE2 (RFC 9382) over ristretto255, SHA-256, HKDF-SHA256 and HMAC-SHA256: two parties that share
 * a short password derive a key, and an active attacker learns whether one guess was right per run,
 * never enough to test guesses offline. M and N are hashes to the group (RFC 9380) of fixed strings,
 * so nobody knows their discrete logarithms.
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';

const Point = ristretto255.Point;
type Point = InstanceType<typeof Point>;
const ORDER = Point.Fn.ORDER;
const DST = { DST: 'tower-spake2-ristretto255-v1' };
const encoder = new TextEncoder();

const SPAKE2_M = ristretto255_hasher.hashToCurve(encoder.encode('tower SPAKE2 M'), DST);
const SPAKE2_N = ristretto255_hasher.hashToCurve(encoder.encode('tower SPAKE2 N'), DST);

export type Spake2Role = 'A' | 'B';

export interface Spake2Keys {
  /** The shared secret for what the two send each other next (RFC 9382's Ke). */
  readonly ke: Buffer;
  /** What A sends (cA) and B checks, and the other way round. */
  readonly confirmA: Buffer;
  readonly confirmB: Buffer;
}

export class Spake2Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Spake2Error';
  }
}

/** Little-endian bytes to a scalar in [1, ORDER): 64 bytes, so the bias of the reduction is negligible. */
function scalarOf(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index--) value = (value << 8n) | BigInt(bytes[index]!);
  return (value % (ORDER - 1n)) + 1n;
}

/**
 * w from the password. RFC 9382 suggests a memory-hard function; a pairing code is used once and
 * SPAKE2 gives an eavesdropper nothing to test guesses against, so a plain wide hash does.
 */
export function passwordScalar(password: string, context: string): bigint {
  return scalarOf(createHash('sha512').update(`${context}\0${password}`).digest());
}

function lengthPrefixed(parts: Uint8Array[]): Buffer {
  return Buffer.concat(
    parts.flatMap((part) => {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(part.length));
      return [length, Buffer.from(part)];
    }),
  );
}

function scalarBytes(scalar: bigint): Buffer {
  const bytes = Buffer.alloc(32);
  let rest = scalar;
  for (let index = 0; index < 32; index++) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

function decodePoint(bytes: Uint8Array): Point {
  if (bytes.length !== 32) throw new Spake2Error('a SPAKE2 message is 32 bytes');
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new Spake2Error('a SPAKE2 message is not a ristretto255 element');
  }
}

/** One party's run: its public share now, the keys once the other's share (and both identities) are known. */
export class Spake2 {
  /** pA for A, pB for B. */
  readonly message: Uint8Array;
  private readonly secret: bigint;
  private readonly w: bigint;

  constructor(
    readonly role: Spake2Role,
    password: string,
    /** Binds w to this protocol, so a code could never be replayed into another. */
    private readonly context: string,
  ) {
    this.w = passwordScalar(password, context);
    this.secret = scalarOf(randomBytes(64));
    const blind = role === 'A' ? SPAKE2_M : SPAKE2_N;
    this.message = Point.BASE.multiply(this.secret).add(blind.multiply(this.w)).toBytes();
  }

  /** RFC 9382 §3.3–3.4: K, the transcript, Ke and the two confirmation MACs. */
  finish(peerMessage: Uint8Array, identityA: Uint8Array, identityB: Uint8Array): Spake2Keys {
    const peer = decodePoint(peerMessage);
    const unblind = this.role === 'A' ? SPAKE2_N : SPAKE2_M;
    const shared = peer.subtract(unblind.multiply(this.w));
    if (shared.is0()) throw new Spake2Error("the other party's SPAKE2 message is degenerate");
    const k = shared.multiply(this.secret);
    if (k.is0()) throw new Spake2Error('the SPAKE2 shared element is the identity');
    const [pA, pB] = this.role === 'A' ? [this.message, peerMessage] : [peerMessage, this.message];
    const transcript = lengthPrefixed([identityA, identityB, pA, pB, k.toBytes(), scalarBytes(this.w)]);
    const digest = createHash('sha256').update(transcript).digest();
    const ka = digest.subarray(16);
    const confirmation = Buffer.from(
      hkdfSync('sha256', ka, Buffer.alloc(0), Buffer.from(`ConfirmationKeys${this.context}`), 64),
    );
    const mac = (key: Buffer) => createHmac('sha256', key).update(transcript).digest();
    return {
      ke: Buffer.from(digest.subarray(0, 16)),
      confirmA: mac(confirmation.subarray(0, 32)),
      confirmB: mac(confirmation.subarray(32)),
    };
  }
}

export function macsEqual(given: Uint8Array, expected: Uint8Array): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}
