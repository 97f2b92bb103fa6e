/**
 * Who may call what. A request authenticates with `Authorization: Bearer <token>` (the admin token or
 * the viewer token) or with the session cookie from POST /api/login. Browsers are held to an exact
 * Origin allowlist on everything that changes state and on WebSocket upgrades, since binding to
 * loopback does not stop a web page the user opens from reaching the server. Every request must name
 * this server in its Host header (an address, localhost, or a name it was given), which keeps a
 * DNS-rebound name away even from the public routes.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AttemptRefused, type AuthThrottle } from '../../state/auth-throttle.js';
import { tokenPath, viewerTokenPath } from '../../state/paths.js';
import type { PeerStore } from '../../state/peers.js';
import { readToken, tokensEqual } from '../../state/token.js';
import { API, type RouteSpec, route } from './api-spec.js';
import type { Role } from './context.js';
import { HttpError, retryLater, sendError } from './errors.js';

export interface AuthSite {
  /** Exact origins (scheme://host:port) whose pages may send non-GET requests and open WebSockets. */
  readonly origins: ReadonlySet<string>;
  readonly cookieName: string;
  /** Set the cookie's Secure flag (the server speaks HTTPS). */
  readonly secure: boolean;
}

export interface AuthOptions {
  stateDir: string;
  /** Known once the server listens (the port may be chosen by the system). */
  site: () => AuthSite;
  /** Wrong tokens and cookies are throttled per client address (and overall) here. */
  throttle: AuthThrottle;
  /** Peer tokens granted here (read afresh at each request, so a removed peer is refused at once). */
  peers: PeerStore;
}

/** How soon a removed peer's open streams are cut. */
const REVOKED_CHECK_MS = 500;

const routesWhere = (test: (spec: RouteSpec) => boolean) =>
  new Set((Object.values(API) as RouteSpec[]).filter(test).map((spec) => `${spec.method} ${spec.url}`));
const PUBLIC_ROUTES = routesWhere((spec) => spec.access === 'none');
/** Other Towers call these: no browser, so no Origin (a browser's foreign Origin is still refused). */
const PEER_ROUTES = routesWhere((spec) => spec.fromPeers === true);

/** The cookie proves its holder once had the token, without containing it; a new token voids it. */
function cookieValue(role: Role, token: string): string {
  return createHmac('sha256', token).update(role).digest('base64url');
}

export function ownOrigins(scheme: 'http' | 'https', port: number, extraHosts: string[] = []): string[] {
  const hosts = ['127.0.0.1', 'localhost', '[::1]', ...extraHosts];
  return [...new Set(hosts.map((host) => `${scheme}://${host}:${port}`))];
}

export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  const tokens = () => ({
    admin: readToken(tokenPath(options.stateDir)),
    viewer: readToken(viewerTokenPath(options.stateDir)),
  });

  // Both candidates are always compared, so timing says nothing about which role a guess was close to.
  const roleOf = (matches: (role: Role, token: string) => boolean): Role | null => {
    const { admin, viewer } = tokens();
    const isAdmin = admin !== null && matches('admin', admin);
    const isViewer = viewer !== null && matches('viewer', viewer);
    return isAdmin ? 'admin' : isViewer ? 'viewer' : null;
  };
  const roleForToken = (given: string) => roleOf((_role, token) => tokensEqual(given, token));
  const roleForCookie = (given: string) =>
    roleOf((role, token) => tokensEqual(given, cookieValue(role, token)));

  /**
   * A Bearer token: the admin or viewer token, else a token granted to a peer (scope full acts as
   * admin, view as viewer). A peer token is never a login: the cookie stays the owner's.
   */
  const bearerIdentity = (given: string): { role: Role; peer: string | null } | null => {
    const role = roleForToken(given);
    const peer = options.peers.byToken(given);
    if (role !== null) return { role, peer: null };
    if (peer?.granted) return { role: peer.granted.scope === 'full' ? 'admin' : 'viewer', peer: peer.name };
    return null;
  };

  /**
   * A credential checked under the throttle: refused unchecked (429) while this address has too many
   * wrong ones waiting, and a wrong one answered only once its delay has passed.
   */
  const throttled = async <T>(request: FastifyRequest, check: () => T | null): Promise<T | null> => {
    try {
      options.throttle.admit(request.ip);
    } catch (error) {
      if (!(error instanceof AttemptRefused)) throw error;
      throw retryLater(429, 'too_many_attempts', error.message, error.retryAfterMs);
    }
    const role = check();
    if (role === null) await options.throttle.failed(request.ip);
    return role;
  };

  /**
   * A peer's long requests (a terminal WebSocket, an SSE stream) outlive the check at their start: the
   * connection is cut once the peer is removed or its token replaced, so a revoked peer sees nothing more.
   */
  const cutOffWhenRevoked = (request: FastifyRequest, reply: FastifyReply, token: string, name: string) => {
    const socket = request.raw.socket;
    const timer = setInterval(() => {
      if (options.peers.byToken(token)?.name !== name) socket.destroy();
    }, REVOKED_CHECK_MS);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      socket.off('close', stop);
    };
    socket.once('close', stop);
    reply.raw.once('finish', stop);
  };

  app.decorateRequest('towerRole', 'viewer');
  app.decorateRequest('towerPeer', null);

  app.addHook('onRequest', async (request, reply) => {
    const site = options.site();
    if (!hostAllowed(request.headers.host, site)) {
      return deny(
        reply,
        new HttpError(
          403,
          'bad_host',
          'Host not allowed: use an IP address or localhost, or add the name with tower serve --allow-origin',
        ),
      );
    }
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const routeKey = `${method} ${request.routeOptions.url}`;
    const isPublic = PUBLIC_ROUTES.has(routeKey);
    const changesState = !isSafeMethod(request.method) || isWebSocketUpgrade(request);
    const bearer = bearerToken(request);

    if (isPublic) {
      if (changesState && !originAllowed(request, site, bearer !== undefined || PEER_ROUTES.has(routeKey))) {
        return deny(reply, new HttpError(403, 'bad_origin', originProblem(request)));
      }
      return;
    }

    const cookie = request.cookies[site.cookieName];
    let found: { role: Role; peer: string | null } | null = null;
    try {
      if (bearer !== undefined) found = await throttled(request, () => bearerIdentity(bearer));
      else if (cookie !== undefined) {
        const role = await throttled(request, () => roleForCookie(cookie));
        found = role === null ? null : { role, peer: null };
      }
    } catch (error) {
      return deny(reply, error as HttpError);
    }
    if (found === null) {
      reply.header('WWW-Authenticate', 'Bearer');
      const message =
        bearer !== undefined || cookie !== undefined
          ? 'wrong token or expired session cookie'
          : 'authentication required: Authorization: Bearer <token>, or log in at / with the URL tower serve printed';
      return deny(reply, new HttpError(401, 'unauthorized', message));
    }
    if (changesState && !originAllowed(request, site, bearer !== undefined)) {
      return deny(reply, new HttpError(403, 'bad_origin', originProblem(request)));
    }
    if (!isSafeMethod(request.method) && found.role !== 'admin') {
      const who = found.peer === null ? 'a viewer token' : `peer ${found.peer} (scope view)`;
      return deny(reply, new HttpError(403, 'read_only', `${who} may only watch, not change anything`));
    }
    request.towerRole = found.role;
    request.towerPeer = found.peer;
    if (found.peer !== null) cutOffWhenRevoked(request, reply, bearer!, found.peer);
  });

  route(app, API.login, async ({ request, body, reply }) => {
    const role = await throttled(request, () => roleForToken(body.token));
    if (role === null) throw new HttpError(401, 'unauthorized', 'wrong token');
    const token = role === 'admin' ? tokens().admin : tokens().viewer;
    const site = options.site();
    reply.setCookie(site.cookieName, cookieValue(role, token!), {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: site.secure,
    });
    return { role };
  });

  // Public, so that a stale or voided cookie can be cleared too; the Origin check above still applies.
  route(app, API.logout, ({ reply }) => {
    const site = options.site();
    reply.clearCookie(site.cookieName, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: site.secure,
    });
    return { ok: true };
  });
}

function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

function isWebSocketUpgrade(request: FastifyRequest): boolean {
  return request.headers.upgrade?.toLowerCase() === 'websocket';
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  // A malformed header is still an attempt to use a token: it must fail, not fall back to the cookie.
  return match ? match[1]! : '';
}

/**
 * DNS rebinding needs a name the attacker controls: an IP literal or localhost is always fine, and
 * so is a name from the server's own origins (its --host, or --allow-origin).
 */
function hostAllowed(host: string | undefined, site: AuthSite): boolean {
  if (host === undefined) return false;
  const name = host
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || isIP(name) !== 0) return true;
  for (const origin of site.origins) {
    if (URL.canParse(origin) && new URL(origin).hostname === name) return true;
  }
  return false;
}

/** Browsers always send Origin on these requests; only a non-browser client (with a Bearer token) omits it. */
function originAllowed(request: FastifyRequest, site: AuthSite, hasBearer: boolean): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return hasBearer;
  return site.origins.has(origin);
}

function originProblem(request: FastifyRequest): string {
  return request.headers.origin === undefined
    ? 'a request without an Origin header must authenticate with Authorization: Bearer'
    : 'Origin not allowed (tower serve --allow-origin adds one)';
}

function deny(reply: FastifyReply, error: HttpError): FastifyReply {
  return sendError(reply, error);
}
