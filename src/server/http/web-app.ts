/**
 * The browser workspace at `/`: web/dist/index.html, built by `npm run build:web` as one
 * self-contained page (script and styles inlined, no CDN, fonts or icons fetched). `/` is the one
 * page a browser may load before it has logged in, so the page cannot depend on other files; its
 * Content-Security-Policy allows exactly its own script, by hash. Beside it, public too, the web app
 * manifest and its icons (web/dist, from web/public), which only installing the app needs.
 *
 * When web/dist is missing (the web app was not built), nothing is registered and nothing is
 * logged: the server keeps its minimal login page. The server should therefore call this first
 * and register its own page only if `app.hasRoute({ method: 'GET', url: '/' })` is still false.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API, type RouteSpec, route } from './api-spec.js';

/** Resolved from this module, so it holds for src/ and dist/ alike. */
export const WEB_DIST = new URL('../../../web/dist/', import.meta.url);

interface Page {
  html: Buffer;
  gzip: Buffer;
  etag: string;
  scriptHashes: string[];
}

const APP_FILES: readonly RouteSpec[] = [API.manifest, API.icon, API.icon192, API.icon512];

function readDist(name: string): Buffer | null {
  try {
    return readFileSync(new URL(name, WEB_DIST));
  } catch {
    return null;
  }
}

function etagOf(data: Buffer): string {
  return `"${createHash('sha256').update(data).digest('base64url').slice(0, 32)}"`;
}

function loadPage(): Page | null {
  const html = readDist('index.html');
  if (html === null) return null;
  const text = html.toString('utf8');
  const scriptHashes = [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)]
    .filter((match) => !/\bsrc\s*=/.test(match[0].slice(0, match[0].indexOf('>'))))
    .map((match) => `'sha256-${createHash('sha256').update(match[1]!, 'utf8').digest('base64')}'`);
  return { html, gzip: gzipSync(html, { level: 9 }), etag: etagOf(html), scriptHashes };
}

/** 304 when the browser has this version already; the caller sends the body otherwise. */
function notModified(request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  reply.header('Cache-Control', 'no-cache').header('ETag', etag);
  const known = request.headers['if-none-match']?.split(',').map((tag) => tag.trim());
  return known?.includes(etag) === true;
}

/** A hostname[:port] safe to echo into a header; anything else gets no explicit WebSocket source. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

export function webAppCsp(scriptHashes: readonly string[], host?: string): string {
  const sockets = host && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    `script-src ${scriptHashes.length > 0 ? scriptHashes.join(' ') : "'none'"}`,
    // xterm.js sets inline styles (and the DOM renderer a <style> element).
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function acceptsGzip(request: FastifyRequest): boolean {
  const header = request.headers['accept-encoding'];
  return typeof header === 'string' && /\bgzip\b(?!;\s*q=0(?:\.0+)?\b)/.test(header);
}

export async function registerWebApp(app: FastifyInstance): Promise<void> {
  const page = loadPage();
  if (page === null) return;
  route(app, API.page, ({ request, reply }) => {
    reply
      .type('text/html; charset=utf-8')
      .header('Content-Security-Policy', webAppCsp(page.scriptHashes, request.headers.host))
      .header('Vary', 'Accept-Encoding');
    if (notModified(request, reply, page.etag)) return reply.code(304).send();
    if (acceptsGzip(request)) return reply.header('Content-Encoding', 'gzip').send(page.gzip);
    return reply.send(page.html);
  });
  for (const spec of APP_FILES) {
    const data = readDist(spec.url.slice(1));
    if (data === null) continue;
    const etag = etagOf(data);
    route(app, spec, ({ request, reply }) => {
      reply
        .type(spec.responses[200]!.contentType!)
        // Nothing in these files runs: an SVG opened on its own may not load or execute anything.
        .header('Content-Security-Policy', "default-src 'none'");
      if (notModified(request, reply, etag)) return reply.code(304).send();
      return reply.send(data);
    });
  }
}
