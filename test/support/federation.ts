/** Towers that know each other, for federation tests: a peer record with the other's token, a fixed port. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PeerStore } from '../../dist/state/peers.js';
import { runCli, startCli } from './cli.js';
import { type TestDaemon, waitFor } from './daemon.js';

export const tokenOf = (daemon: TestDaemon) => readFileSync(join(daemon.stateDir, 'token'), 'utf8').trim();

/** `from` calls `peer` NAME with the peer's own admin token (as `tower peer add` would store it). */
export function addPeerRecord(from: TestDaemon, name: string, peer: TestDaemon, token = tokenOf(peer)): void {
  putPeer(from.stateDir, name, peer.httpUrl!, token);
}

/** The Tower of `stateDir` calls NAME at `url` with `token` (a fake peer, say); `fingerprint`: the paired one. */
export function putPeer(
  stateDir: string,
  name: string,
  url: string,
  token: string,
  fingerprint?: string,
): void {
  new PeerStore(stateDir).put({
    name,
    url,
    fingerprint: fingerprint ?? null,
    public_key: null,
    token,
    granted: null,
    added_by: 'manual',
    added_at: new Date().toISOString(),
  });
}

/** A port free now, so a peer can come back on the same URL after a restart. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The real pairing flow: `tower peer pair` on `shows` prints a code, which is typed into `tower peer
 * pair URL` on `types`. Each then knows the other by the name the other's serve was given (--name).
 */
export async function pairTowers(shows: TestDaemon, types: TestDaemon): Promise<void> {
  const offer = startCli(shows.stateDir, ['peer', 'pair']);
  const code = await waitFor(() => /Pairing code: (\S+)/.exec(offer.stdout())?.[1], 'the pairing code');
  const typed = await runCli(types.stateDir, ['peer', 'pair', shows.httpUrl!, '--code', code]);
  if (typed.code !== 0) throw new Error(`pairing failed: ${typed.stderr}`);
  const shown = await offer.done;
  if (shown.code !== 0) throw new Error(`pairing failed on the side that showed the code: ${shown.stderr}`);
}
