/**
 * GET /ws/terminal/:id on the real daemon: a Fastify app registers the route as server.ts does,
 * with the role taken from an `x-test-role` header, and `ws` plays the browser.
 */
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { TowerClient } from '../../dist/client/client.js';
import type { SessionEventListener } from '../../dist/server/http/context.js';
import { StreamLimit } from '../../dist/server/http/streams.js';
import { registerTerminalSocket } from '../../dist/server/http/terminal-socket.js';
import { startTestDaemon, type TestDaemon, waitFor } from './daemon.js';
import { type BrowserOptions, TestBrowser } from './terminal-browser.js';

export interface TerminalRoute {
  daemon: TestDaemon;
  /** The Fastify app serving the route (its WebSocket server holds the server side of each socket). */
  app: FastifyInstance;
  /** A connection of the test's own, for creating sessions and reading screens. */
  client: TowerClient;
  openBrowser(sessionId: string, options?: BrowserOptions): Promise<TestBrowser>;
  /** /bin/sh with the prompt `$ `, once the prompt is on screen. */
  interactiveShell(extra?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startTerminalRoute(): Promise<TerminalRoute> {
  const daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  const client = await daemon.connect();
  const shared = await daemon.connect();
  const app = Fastify();
  await app.register(websocket);
  app.addHook('onRequest', async (request) => {
    request.towerRole = request.headers['x-test-role'] === 'viewer' ? 'viewer' : 'admin';
  });
  // As server.ts does: session changes from the shared connection, for the size owners.
  const listeners = new Set<SessionEventListener>();
  shared.on('session_event', (message) => {
    for (const listener of listeners) listener(message);
  });
  await shared.watch();
  registerTerminalSocket(app, {
    client: shared,
    connect: () => TowerClient.connect({ stateDir: daemon.stateDir }),
    onSessionEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watchWorkspace: () => () => {},
    streams: new StreamLimit(1000),
  });
  const base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace(/^http/, 'ws');
  const browsers: TestBrowser[] = [];

  return {
    daemon,
    app,
    client,
    async openBrowser(sessionId, options = {}) {
      const query = new URLSearchParams();
      if (options.offset !== undefined) query.set('offset', String(options.offset));
      if (options.client !== undefined) query.set('client', options.client);
      const ws = new WebSocket(`${base}/ws/terminal/${encodeURIComponent(sessionId)}?${query}`, {
        headers: { 'x-test-role': options.role ?? 'admin' },
      });
      const browser = new TestBrowser(ws, options.keepFrames ?? true, options.autoAck ?? true);
      browsers.push(browser);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return browser;
    },
    async interactiveShell(extra = {}) {
      const { sessionId } = await client.createSession({ shell: '/bin/sh', env: { PS1: '$ ' }, ...extra });
      await waitFor(async () => (await client.screen(sessionId)).text.includes('$'), 'the prompt');
      return sessionId;
    },
    async close() {
      for (const browser of browsers) browser.ws.terminate();
      await app.close();
      client.end();
      shared.end();
      await daemon.dispose();
    },
  };
}
