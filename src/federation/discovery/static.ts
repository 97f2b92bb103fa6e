/**
 * Static peers: Towers the user lists by URL in <state-dir>/federation.json,
 *   { "static": [ { "url": "http://10.0.0.5:7613", "name": "build-box" } ] }
 * (name optional), read again when the file changes. Each is asked who it is (GET /api/tower); one
 * that does not answer is still listed, by the name given or its host, with no fingerprint. Listed
 * here means found, like any discovery: pairing alone makes it a trusted peer.
 */
import { z } from 'zod';
import type { FoundPeer } from '../../protocol/federation.js';
import { ConfigFile } from '../../state/config-file.js';
import { federationConfigPath } from '../../state/paths.js';
import { checkFound, eachBounded, probeTower } from './found.js';
import { MAX_FOUND, PeriodicSource } from './source.js';

const PROBE_TIMEOUT_MS = 3000;
const PROBES_IN_FLIGHT = 8;
const MAX_FILE_BYTES = 256 * 1024;

const FederationFile = z.object({
  static: z
    .array(z.object({ url: z.string(), name: z.string().optional() }).strict())
    .max(MAX_FOUND, `at most ${MAX_FOUND} static peers`)
    .default([]),
});

interface StaticEntry {
  url: string;
  name?: string;
}

export function staticSource(stateDir: string, intervalMs = 60_000): PeriodicSource {
  const file = new ConfigFile(federationConfigPath(stateDir));
  let entries: StaticEntry[] = [];
  let problem: string | null = null;
  return new PeriodicSource(
    'static',
    async () => {
      const read = file.changed();
      if (read !== null) [entries, problem] = parseFederationFile(federationConfigPath(stateDir), read);
      const results = await eachBounded(entries, PROBES_IN_FLIGHT, (entry) =>
        probeTower(entry.url, 'static', PROBE_TIMEOUT_MS),
      );
      const found = entries.map((entry, index): FoundPeer => {
        const result = results[index]!;
        const fallback: FoundPeer = {
          name: entry.name ?? nameOfHost(entry.url),
          url: entry.url,
          fingerprint: null,
          version: null,
          found_by: 'static',
        };
        if (result.status === 'rejected') return fallback;
        return { ...result.value, name: entry.name ?? result.value.name };
      });
      return { found, error: problem };
    },
    { intervalMs, timeoutMs: Math.ceil(MAX_FOUND / PROBES_IN_FLIGHT) * PROBE_TIMEOUT_MS + 1000 },
  );
}

/** The entries, each checked like any found Tower, and what is wrong with the file, if anything. */
function parseFederationFile(
  path: string,
  read: { absent: true } | { text: string } | { error: string },
): [StaticEntry[], string | null] {
  if ('absent' in read) return [[], null];
  if ('error' in read) return [[], `${path}: ${read.error}`];
  if (read.text.length > MAX_FILE_BYTES) return [[], `${path}: larger than ${MAX_FILE_BYTES} bytes`];
  let file: z.infer<typeof FederationFile>;
  try {
    file = FederationFile.parse(JSON.parse(read.text));
  } catch (error) {
    const detail =
      error instanceof z.ZodError
        ? `${error.issues[0]?.path.join('.')}: ${error.issues[0]?.message}`
        : (error as Error).message;
    return [[], `${path}: ${detail.slice(0, 300)}`];
  }
  const entries: StaticEntry[] = [];
  const problems: string[] = [];
  for (const entry of file.static) {
    const checked = checkFound({ name: entry.name ?? nameOfHost(entry.url), url: entry.url }, 'static');
    if ('refused' in checked) problems.push(checked.refused);
    else entries.push({ url: checked.url, name: entry.name });
  }
  return [entries, problems.length ? `${path}: ${problems.join('; ')}` : null];
}

/** A peer name from a URL's host, for an entry that gives none. */
function nameOfHost(url: string): string {
  try {
    const host = new URL(url).hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
    return host.slice(0, 63) || 'static';
  } catch {
    return 'static';
  }
}
