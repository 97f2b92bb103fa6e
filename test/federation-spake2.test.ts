/** SPAKE2 (RFC 9382, ristretto255) and the token seal: the crypto pairing rests on, run directly. */
import { describe, expect, it } from 'vitest';
import { openToken, sealToken } from '../dist/federation/pairing-seal.js';
import { macsEqual, Spake2, Spake2Error } from '../dist/federation/spake2.js';

const CONTEXT = 'tower-pair-v1';
const idA = Buffer.from('alpha');
const idB = Buffer.from('beta');

function run(passwordA: string, passwordB: string) {
  const a = new Spake2('A', passwordA, CONTEXT);
  const b = new Spake2('B', passwordB, CONTEXT);
  return { a: a.finish(b.message, idA, idB), b: b.finish(a.message, idA, idB), pA: a.message, pB: b.message };
}

describe('SPAKE2 over ristretto255', () => {
  it('derives the same key and confirmations from the same password', () => {
    const { a, b } = run('K7QX2MHP', 'K7QX2MHP');
    expect(a.ke.equals(b.ke)).toBe(true);
    expect(a.ke.length).toBe(16);
    expect(macsEqual(a.confirmA, b.confirmA)).toBe(true);
    expect(macsEqual(a.confirmB, b.confirmB)).toBe(true);
    expect(a.confirmA.equals(a.confirmB)).toBe(false);
  });

  it('fresh randomness each run: another run gives other messages and another key', () => {
    const first = run('K7QX2MHP', 'K7QX2MHP');
    const second = run('K7QX2MHP', 'K7QX2MHP');
    expect(Buffer.from(first.pA).equals(Buffer.from(second.pA))).toBe(false);
    expect(first.a.ke.equals(second.a.ke)).toBe(false);
  });

  it('a different password gives different keys, and the confirmations fail', () => {
    const { a, b } = run('K7QX2MHP', 'K7QX2MHQ');
    expect(a.ke.equals(b.ke)).toBe(false);
    expect(macsEqual(a.confirmB, b.confirmB)).toBe(false);
    expect(macsEqual(a.confirmA, b.confirmA)).toBe(false);
  });

  it('the identities are bound: the same password with another identity fails the confirmation', () => {
    const a = new Spake2('A', 'K7QX2MHP', CONTEXT);
    const b = new Spake2('B', 'K7QX2MHP', CONTEXT);
    const keysA = a.finish(b.message, idA, idB);
    const keysB = b.finish(a.message, Buffer.from('mallory'), idB);
    expect(macsEqual(keysA.confirmB, keysB.confirmB)).toBe(false);
  });

  it('a relay that passes the messages on learns nothing it can use: its own guesses give other keys', () => {
    const { a, pA, pB } = run('K7QX2MHP', 'K7QX2MHP');
    // The relay saw pA and pB. Acting as B towards A with a guessed code, its key is not A's.
    const relayAsB = new Spake2('B', 'AAAAAAAA', CONTEXT);
    const relayKeys = relayAsB.finish(pA, idA, idB);
    expect(relayKeys.ke.equals(a.ke)).toBe(false);
    // Nor does replaying B's own message back help: without y, pB gives it no key.
    const relayAsA = new Spake2('A', 'K7QX2MHP', CONTEXT);
    expect(relayAsA.finish(pB, idA, idB).ke.equals(a.ke)).toBe(false);
  });

  it('a man in the middle with a wrong guess is caught on both sides', () => {
    const a = new Spake2('A', 'K7QX2MHP', CONTEXT);
    const b = new Spake2('B', 'K7QX2MHP', CONTEXT);
    const mitmToB = new Spake2('A', 'ZZZZ2222', CONTEXT);
    const mitmToA = new Spake2('B', 'ZZZZ2222', CONTEXT);
    const keysA = a.finish(mitmToA.message, idA, idB);
    const keysB = b.finish(mitmToB.message, idA, idB);
    expect(macsEqual(keysA.confirmB, mitmToA.finish(a.message, idA, idB).confirmB)).toBe(false);
    expect(macsEqual(keysB.confirmA, mitmToB.finish(b.message, idA, idB).confirmA)).toBe(false);
  });

  it('refuses malformed messages', () => {
    const a = new Spake2('A', 'K7QX2MHP', CONTEXT);
    expect(() => a.finish(new Uint8Array(31), idA, idB)).toThrow(Spake2Error);
    expect(() => a.finish(new Uint8Array(32).fill(0xff), idA, idB)).toThrow(Spake2Error);
  });
});

describe('the token seal', () => {
  const { a, b } = run('K7QX2MHP', 'K7QX2MHP');
  const token = 'ab'.repeat(32);

  it('opens with the same key and direction only', () => {
    const sealed = sealToken(a.ke, 'A->B', token);
    expect(sealed).not.toContain(token);
    expect(openToken(b.ke, 'A->B', sealed)).toBe(token);
    expect(openToken(b.ke, 'B->A', sealed)).toBeNull();
    expect(openToken(run('K7QX2MHP', 'K7QX2MHP').b.ke, 'A->B', sealed)).toBeNull();
    const bytes = Buffer.from(sealed, 'base64');
    bytes[14]! ^= 1;
    expect(openToken(b.ke, 'A->B', bytes.toString('base64'))).toBeNull();
  });
});
