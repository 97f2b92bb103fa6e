/**
 * The HTTP server (REST, SSE, WebSocket) in front of the daemon. It holds no sessions itself: every
 * call goes to the daemon over its Unix socket through TowerClient, like any other client.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Discovery } from '../../federation/discovery/index.js';
import { Fleet } from '../../federation/fleet.js';
import { MAX_WS_MESSAGE_BYTES } from '../../protocol/limits.js';
import { AuthThrottle } from '../../state/auth-throttle.js';
import { loadIdentity } from '../../state/identity.js';
import { PeerStore } from '../../state/peers.js';
import { type AuthSite, ownOrigins, registerAuth } from './auth.js';
import { linkToDaemon } from './daemon-link.js';
import {
  checkDiscoverySettings,
  type DiscoverySettings,
  type Listening,
  reachableUrl,
  registerDiscoveryRoutes,
  startDiscovery,
} from './discovery-routes.js';
import { installErrorHandlers } from './errors.js';
import { registerFleetProxy } from './fleet-proxy.js';
import { registerFleetRoutes } from './fleet-routes.js';
import { registerLoginPage } from './login-page.js';
import { registerMcpEndpoint } from './mcp-endpoint.js';
import { registerPairingRoutes } from './pairing-routes.js';
import { registerPeerSpawn } from './peer-spawn.js';
import { registerRoutes } from './routes.js';
import { registerSse } from './sse.js';
import { registerTerminalSocket } from './terminal-socket.js';
import { registerWebApp } from './web-app.js';

export { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, isLoopbackHost } from './listen-address.js';

export interface HttpOptions {
  stateDir: string;
  socketPath: string;
  host: string;
  /** 0: any free port. */
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  /** More exact origins (scheme://host:port) allowed to send changes and open WebSockets. */
  allowOrigins?: string[];
  /** Wrong tokens are throttled here (`tower serve` shares one with the daemon's socket). */
  authThrottle?: AuthThrottle;
  /** Open SSE and WebSocket streams at most (default DEFAULT_MAX_STREAMS). */
  maxStreams?: number;
  /** Sessions of one runtime dispatch may start here (default 4). */
  dispatchLimit?: number;
  /** mDNS, Tailscale and static peers: what is looked for and advertised. */
  discovery?: DiscoverySettings;
  /** Where discovery's problems are told (default: nowhere). */
  warn?: (message: string) => void;
  /** How long a peer may take to list its sessions (default PEER_TIMEOUT_MS). */
  peerTimeoutMs?: number;
}

export interface HttpServer {
  /** scheme://host:port, no trailing slash. */
  readonly url: string;
  /** The Towers found (never trusted by that alone); null when discovery could not start. */
  readonly discovery: Discovery | null;
  close(): Promise<void>;
}

export async function startHttp(options: HttpOptions): Promise<HttpServer> {
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) {
    throw new Error('--tls-cert and --tls-key must be given together');
  }
  checkDiscoverySettings(options.discovery ?? {});
  const https =
    options.tlsCert && options.tlsKey
      ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
      : null;
  const scheme = https ? 'https' : 'http';
  let discovery: Discovery | null = null;
  const federation = {
    identity: loadIdentity(options.stateDir),
    peers: new PeerStore(options.stateDir),
    dispatchLimit: options.dispatchLimit ?? 4,
    discovered: () => discovery?.list() ?? [],
  };
  const link = await linkToDaemon({ ...options, federation });

  // Open streams (SSE, WebSockets) must not hold up a shutdown.
  const app = (https
    ? Fastify({ https, logger: false, forceCloseConnections: true })
    : Fastify({ logger: false, forceCloseConnections: true })) as unknown as FastifyInstance;
  let site: AuthSite = { origins: new Set(), cookieName: 'tower_session', secure: https !== null };
  let url = '';
  /** How other Towers reach this one (pairing tells them), when not the same as `url`. */
  let reachable = '';
  const throttle = options.authThrottle ?? new AuthThrottle();
  const { peers } = federation;
  const fleet = new Fleet({
    peers,
    identity: () => federation.identity,
    timeoutMs: options.peerTimeoutMs,
    discovered: federation.discovered,
  });

  try {
    await app.register(fastifyCookie);
    await app.register(fastifyWebsocket, {
      // ws reads a frame's length from its header and refuses it there (close 1009) when too big.
      options: { maxPayload: MAX_WS_MESSAGE_BYTES },
      errorHandler: (_error, socket) => {
        // A refused frame: ws has sent its close frame; let the closing handshake finish.
        if (socket.readyState !== socket.CLOSING) socket.terminate();
      },
    });
    installErrorHandlers(app);
    app.addHook('onSend', async (_request, reply) => {
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('Referrer-Policy', 'no-referrer');
      reply.header('X-Frame-Options', 'DENY');
      if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    });
    registerAuth(app, {
      stateDir: options.stateDir,
      site: () => site,
      throttle,
      peers,
    });
    registerFleetProxy(app, fleet);
    // The built web app takes `/` when present; otherwise the minimal login page does.
    await registerWebApp(app);
    if (!app.hasRoute({ method: 'GET', url: '/' })) registerLoginPage(app);
    registerRoutes(app, link.context);
    registerFleetRoutes(app, link.context, { fleet, identity: federation.identity });
    registerSse(app, link.context, fleet);
    registerTerminalSocket(app, link.context);
    registerPairingRoutes(app, { identity: federation.identity, peers, throttle, url: () => reachable });
    registerDiscoveryRoutes(app, federation.identity, () => discovery);
    registerPeerSpawn(app, link.context);
    registerMcpEndpoint(app, { url: () => url, origins: () => site.origins });
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app.close().catch(() => {});
    link.end();
    throw error;
  }

  const { port } = app.server.address() as AddressInfo;
  const urlHost = displayHost(options.host);
  site = {
    origins: new Set([...ownOrigins(scheme, port, [urlHost]), ...(options.allowOrigins ?? [])]),
    cookieName: `tower_session_${port}`,
    secure: https !== null,
  };
  url = `${scheme}://${urlHost}:${port}`;
  const warn = options.warn ?? (() => {});
  const { identity } = federation;
  const listening: Listening = {
    stateDir: options.stateDir,
    identity,
    host: options.host,
    port,
    scheme,
    url,
  };
  reachable = reachableUrl(options.discovery ?? {}, listening) ?? url;
  discovery = startDiscovery(options.discovery ?? {}, listening, warn);
  return {
    url,
    get discovery() {
      return discovery;
    },
    close: async () => {
      await discovery?.close();
      await app.close();
      link.end();
    },
  };
}

/** The host for URLs and origins: a wildcard address is reached through loopback. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
