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

export function localWebClient(
  stateDir: string,
  options: Omit<HttpClientOptions, 'url' | 'token'> = {},
): TowerHttpClient {
  const info = readServeInfo(stateDir);
  const token = readToken(tokenPath(stateDir));
  if (!info || token === null) throw new ServeNotRunning(stateDir);
  return new TowerHttpClient({ ...options, url: info.url, token });
}
