/**
 * /mcp: the MCP server over Streamable HTTP, for a head agent on another machine or one that cannot
 * start `tower mcp`. Only a Bearer admin token opens or uses a session (never the browser's cookie), a
 * browser's Origin must be exactly one of this server's, and a session stays bound to the credential
 * that opened it. Sessions are bounded in number and end after an hour unused.
 */
import { createHash, randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TowerHttpClient } from '../../client/http-client.js';
import { SpawnGuard, spawnLimits } from '../../mcp/guard.js';
import { createTowerMcpServer } from '../../mcp/server.js';
import { tokensEqual } from '../../state/token.js';
import { TOWER_VERSION } from '../../state/version.js';
import { API } from './api-spec.js';
import { HttpError, sendError } from './errors.js';

export const DEFAULT_MAX_MCP_SESSIONS = 32;
const IDLE_MS = 60 * 60 * 1000;

export interface McpEndpointOptions {
  /** This server's own URL, once it listens: the tools call its web API there, as the caller. */
  url: () => string;
  /** Exact origins a browser may call from (the same as every other route's). */
  origins: () => ReadonlySet<string>;
  maxSessions?: number;
}

interface McpSession {
  transport: StreamableHTTPServerTransport;
  close: () => Promise<void>;
  credential: string;
  lastUsed: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function registerMcpEndpoint(app: FastifyInstance, options: McpEndpointOptions): void {
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_MCP_SESSIONS;
  const live = new Set<McpSession>();
  const byId = new Map<string, McpSession>();

  const end = async (session: McpSession) => {
    if (!live.delete(session)) return;
    if (session.transport.sessionId) byId.delete(session.transport.sessionId);
    await session.close().catch(() => {});
  };

  const open = async (token: string): Promise<McpSession> => {
    // Known by its id before the initialize reply leaves, so the client's next request finds it.
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void byId.set(id, session),
    });
    const server = createTowerMcpServer({
      client: () => new TowerHttpClient({ url: options.url(), token }),
      // A caller over HTTP has no environment to inherit limits from: each session gets the defaults.
      guard: new SpawnGuard(spawnLimits({})),
      version: TOWER_VERSION,
    });
    const session: McpSession = {
      transport,
      close: () => server.close(),
      credential: sha256(token),
      lastUsed: Date.now(),
    };
    transport.onclose = () => void end(session);
    live.add(session);
    await server.connect(transport);
    return session;
  };

  const sweep = setInterval(() => {
    const before = Date.now() - IDLE_MS;
    for (const session of live) if (session.lastUsed < before) void end(session);
  }, 60_000);
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    await Promise.all([...live].map(end));
  });

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined) {
      reply.header('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, 'unauthorized', 'the MCP endpoint takes Authorization: Bearer <admin token>');
    }
    if (request.towerRole !== 'admin') {
      throw new HttpError(
        403,
        'read_only',
        'the MCP endpoint needs the admin token (or a full-scope peer token)',
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !options.origins().has(origin)) {
      throw new HttpError(403, 'bad_origin', 'Origin not allowed (tower serve --allow-origin adds one)');
    }
    const id = request.headers['mcp-session-id'];
    let session: McpSession | undefined;
    if (typeof id === 'string') {
      session = byId.get(id);
      if (!session)
        throw new HttpError(404, 'unknown_mcp_session', 'no such MCP session (ended?): initialize again');
      if (!tokensEqual(sha256(token), session.credential)) {
        throw new HttpError(403, 'forbidden', 'this MCP session was opened with another credential');
      }
    } else if (request.method === 'POST' && isInitializeRequest(request.body)) {
      if (live.size >= maxSessions) {
        throw new HttpError(
          503,
          'too_many_mcp_sessions',
          `${maxSessions} MCP sessions are open: end one (DELETE /mcp) or wait an hour for an unused one to expire`,
        );
      }
      session = await open(token);
    } else {
      throw new HttpError(400, 'bad_request', 'no Mcp-Session-Id header: send initialize first');
    }
    session.lastUsed = Date.now();
    reply.hijack();
    await session.transport.handleRequest(request.raw, reply.raw, request.body);
    // An initialize the transport refused opened nothing.
    if (session.transport.sessionId === undefined) await end(session);
  };

  for (const spec of [API.mcp, API.mcpStream, API.mcpEnd]) {
    app.route({
      method: spec.method,
      url: spec.url,
      handler: (request, reply) =>
        handle(request, reply).catch((error: unknown) => {
          if (reply.sent || reply.raw.headersSent) return;
          if (error instanceof HttpError) return sendError(reply, error);
          throw error;
        }),
    });
  }
}
