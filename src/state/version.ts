/** This build's version, from package.json: the session host and its control plane tell each other. */
import { readFileSync } from 'node:fs';

export const TOWER_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
