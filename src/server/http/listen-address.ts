/**
 * Where the web workspace listens by default, and what counts as loopback. Apart from server.ts so
 * that `tower` can describe `serve` without loading the web server (Fastify) for every command.
 */
export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 7613;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
