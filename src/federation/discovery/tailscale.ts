/**
 * Tailscale: when the `tailscale` command exists, `tailscale status --json` names the tailnet's
 * machines; each online one is asked on Tower's port who is there (GET /api/tower). A machine that
 * does not answer runs no Tower, which is no error. Every step is bounded: the command's time and
 * output, the machines asked, the probes in flight and each probe's time.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import type { FoundPeer } from '../../protocol/federation.js';
import { eachBounded, probeTower } from './found.js';
import { MAX_FOUND, PeriodicSource } from './source.js';

const STATUS_TIMEOUT_MS = 5000;
const MAX_STATUS_BYTES = 4 * 1024 * 1024;
const PROBE_TIMEOUT_MS = 2000;
const PROBES_IN_FLIGHT = 8;
const MAX_PORTS = 2;
/** The longest a whole look can take: the command, then every probe in waves. */
const LOOK_TIMEOUT_MS =
  STATUS_TIMEOUT_MS + Math.ceil((MAX_FOUND * MAX_PORTS) / PROBES_IN_FLIGHT) * PROBE_TIMEOUT_MS + 1000;

const TailscaleStatus = z.object({
  Peer: z
    .record(
      z.string(),
      z.object({
        HostName: z.string().optional(),
        TailscaleIPs: z.array(z.string()).nullable().optional(),
        Online: z.boolean().optional(),
      }),
    )
    .nullable()
    .optional(),
});

export interface TailscaleOptions {
  /** The ports Tower is asked on, each machine (this serve's own, and Tower's default); two at most. */
  ports: number[];
  intervalMs?: number;
}

/** The `tailscale` program on PATH, or null when there is none (then the source stays off). */
export function findTailscale(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'tailscale');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

export function tailscaleSource(program: string, options: TailscaleOptions): PeriodicSource {
  return new PeriodicSource('tailscale', (signal) => lookOnTailnet(program, options.ports, signal), {
    intervalMs: options.intervalMs ?? 60_000,
    timeoutMs: LOOK_TIMEOUT_MS,
  });
}

async function lookOnTailnet(
  program: string,
  ports: number[],
  signal: AbortSignal,
): Promise<{ found: FoundPeer[]; error: string | null }> {
  const status = await tailscaleStatus(program, signal);
  const urls = Object.values(status.Peer ?? {})
    .filter((peer) => peer.Online !== false)
    .map((peer) => (peer.TailscaleIPs ?? []).find((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)))
    .filter((ip): ip is string => ip !== undefined)
    .slice(0, MAX_FOUND)
    .flatMap((ip) => [...new Set(ports)].slice(0, MAX_PORTS).map((port) => `http://${ip}:${port}`));
  const results = await eachBounded(urls, PROBES_IN_FLIGHT, (url) =>
    signal.aborted ? Promise.reject(signal.reason) : probeTower(url, 'tailscale', PROBE_TIMEOUT_MS),
  );
  const found = new Map<string, FoundPeer>();
  for (const result of results) {
    if (result.status === 'fulfilled' && result.value.fingerprint !== null) {
      found.set(result.value.fingerprint, result.value);
    }
  }
  return { found: [...found.values()], error: null };
}

function tailscaleStatus(program: string, signal: AbortSignal): Promise<z.infer<typeof TailscaleStatus>> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      ['status', '--json'],
      { timeout: STATUS_TIMEOUT_MS, maxBuffer: MAX_STATUS_BYTES, signal, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const why = stderr.trim().split('\n')[0] || error.message;
          reject(new Error(`tailscale status --json failed: ${why.slice(0, 300)}`));
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(stdout);
        } catch {
          reject(new Error('tailscale status --json printed something that is not JSON'));
          return;
        }
        const checked = TailscaleStatus.safeParse(parsed);
        if (checked.success) resolve(checked.data);
        else
          reject(
            new Error(`tailscale status --json: unexpected shape (${checked.error.issues[0]?.message})`),
          );
      },
    );
  });
}
