/**
 * Discovery on the web server: GET /api/tower (who this Tower is, public: the same as mDNS
 * advertises), GET /api/discovery (what was found), and the Discovery itself, started once the
 * server listens (the advertised URL needs its port).
 */
import { networkInterfaces } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { checkUrl } from '../../federation/discovery/found.js';
import { Discovery } from '../../federation/discovery/index.js';
import { TOWER_VERSION } from '../../state/version.js';
import { API, route } from './api-spec.js';
import { DEFAULT_HTTP_PORT, isLoopbackHost } from './listen-address.js';

export interface DiscoverySettings {
  /** Advertise and browse on the LAN; default: only when the web listens beyond loopback. */
  mdns?: boolean;
  /** The URL mDNS advertises; default: the web workspace's own (on a wildcard address, the first LAN one). */
  advertiseUrl?: string;
  /** Ask Tailscale (when its command exists); default true. */
  tailscale?: boolean;
  /** The ports a tailnet machine is asked on; default this serve's port and Tower's default. */
  tailscalePorts?: number[];
}

export interface PublicIdentity {
  name: string;
  fingerprint: string;
}

export function registerDiscoveryRoutes(
  app: FastifyInstance,
  identity: PublicIdentity,
  discovery: () => Discovery | null,
): void {
  route(app, API.towerIdentity, () => ({
    name: identity.name,
    fingerprint: identity.fingerprint,
    version: TOWER_VERSION,
  }));
  route(app, API.discovery, () => discovery()?.status() ?? { found: [], sources: [] });
}

export interface Listening {
  stateDir: string;
  identity: PublicIdentity;
  host: string;
  port: number;
  scheme: 'http' | 'https';
  url: string;
}

/** Settings refused before anything starts. */
export function checkDiscoverySettings(settings: DiscoverySettings): void {
  if (settings.advertiseUrl !== undefined && checkUrl(settings.advertiseUrl) === null) {
    throw new Error(`--advertise-url ${settings.advertiseUrl}: give scheme://host:port, nothing more`);
  }
}

/** Discovery for a server listening as given. */
export function startDiscovery(
  settings: DiscoverySettings,
  listening: Listening,
  warn: (message: string) => void,
): Discovery {
  const { name, fingerprint } = listening.identity;
  const wildcard = isWildcard(listening.host);
  const mdnsOn = settings.mdns ?? !isLoopbackHost(listening.host);
  const advertised = reachableUrl(settings, listening);
  if (advertised === null && mdnsOn) {
    warn('mDNS: no LAN address to advertise (give --advertise-url); browsing only');
  }
  const interfaceAddress =
    /^\d+\.\d+\.\d+\.\d+$/.test(listening.host) && !wildcard && !isLoopbackHost(listening.host)
      ? listening.host
      : undefined;
  return new Discovery({
    stateDir: listening.stateDir,
    name,
    fingerprint,
    version: TOWER_VERSION,
    mdns: mdnsOn
      ? { advertise: advertised ? { url: advertised, port: listening.port } : null, interfaceAddress }
      : null,
    tailscale:
      settings.tailscale === false
        ? null
        : { ports: settings.tailscalePorts ?? [listening.port, DEFAULT_HTTP_PORT] },
    warn,
  });
}

/**
 * The URL other Towers reach this one at: --advertise-url, else the address it listens on, else (on a
 * wildcard address) the first LAN address; null when there is none. mDNS advertises it, and pairing
 * gives it to the other side unless told otherwise.
 */
export function reachableUrl(
  settings: Pick<DiscoverySettings, 'advertiseUrl'>,
  listening: Pick<Listening, 'host' | 'port' | 'scheme' | 'url'>,
): string | null {
  if (settings.advertiseUrl !== undefined) return checkUrl(settings.advertiseUrl);
  if (!isWildcard(listening.host)) return listening.url;
  const lan = firstLanAddress();
  return lan ? `${listening.scheme}://${lan}:${listening.port}` : null;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '' || host === '::';
}

function firstLanAddress(): string | null {
  for (const addresses of Object.values(networkInterfaces())) {
    const lan = addresses?.find((address) => address.family === 'IPv4' && !address.internal);
    if (lan) return lan.address;
  }
  return null;
}
