/** The daemon's auth token: 32 random bytes as hex, in a 0600 file, compared in constant time. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

export function readToken(file: string): string | null {
  try {
    const token = readFileSync(file, 'utf8').trim();
    return TOKEN_PATTERN.test(token) ? token : null;
  } catch {
    return null;
  }
}

/** Write a fresh token atomically, readable by the owner only. */
export function writeNewToken(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${token}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return token;
}

export function ensureToken(file: string): string {
  return readToken(file) ?? writeNewToken(file);
}

export function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  // timingSafeEqual needs equal lengths; compare against itself so the time does not depend on the length check.
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}
