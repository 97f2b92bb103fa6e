/** The local Tower's web API, for what only `tower serve` holds (the fleet of peers, pairing, MCP). */
import { tokenPath } from '../state/paths.js';
import { readServeInfo } from '../state/serve-info.js';
import { readToken } from '../state/token.js';
import { type HttpClientOptions, TowerHttpClient } from './http-client.js';

export class ServeNotRunning extends Error {
  constructor(stateDir: string) {
    super(`tower serve is not running with its web API for ${stateDir} (peers and the fleet live there)`);
    this.name = 'ServeNotRunning';
  }
}

/** The running serve's web API: its URL and the admin token (for a WebSocket, say). */
export function localWebEndpoint(stateDir: string): { url: string; token: string } {
  const info = readServeInfo(stateDir);
  const token = readToken(tokenPath(stateDir));
  if (!info || token === null) throw new ServeNotRunning(stateDir);
  return { url: info.url, token };
}

export function localWebClient(
  stateDir: string,
  options: Omit<HttpClientOptions, 'url' | 'token'> = {},
): TowerHttpClient {
  return new TowerHttpClient({ ...options, ...localWebEndpoint(stateDir) });
}
