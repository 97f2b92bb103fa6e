/** The REST routes: sessions over the daemon's socket, through the shared TowerClient. */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TowerClient } from '../../client/client.js';
import { dispatchAcrossFleet } from '../../federation/dispatch.js';
import type { SessionInfo } from '../../protocol/socket.js';
import { API, route } from './api-spec.js';
import type { HttpContext } from './context.js';
import { HttpError } from './errors.js';
import { fromPeer } from './fleet-routes.js';
import { openApiDocument } from './openapi.js';

/** The daemon takes lines up to 1 MiB, and base64 grows bytes by a third. */
const INPUT_CHUNK_BYTES = 256 * 1024;
const OUTPUT_READ_BYTES = 512 * 1024;
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export async function findSession(client: TowerClient, id: string): Promise<SessionInfo> {
  const session = (await client.list()).find((candidate) => candidate.id === id);
  if (!session) throw new HttpError(404, 'unknown_session', `unknown session: ${id}`);
  return session;
}

/** A substrate by name (404 when unknown); with `needBox`, one with a box to bootstrap (409 if not). */
export async function findBoxSubstrate(client: TowerClient, name: string, needBox: boolean): Promise<void> {
  const { substrates } = await client.substrates();
  const substrate = substrates.find((candidate) => candidate.name === name);
  if (!substrate) throw new HttpError(404, 'unknown_substrate', `unknown substrate: ${name}`);
  if (needBox && substrate.bootstrap === null)
    throw new HttpError(
      409,
      'not_supported',
      `${name} is a ${substrate.type} substrate: it has no box to bootstrap`,
    );
}

export function registerRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const document = openApiDocument();

  route(app, API.health, () => ({ ok: true }));
  route(app, API.openapi, () => document);
  route(app, API.runtimes, () => ctx.client.runtimes());
  route(app, API.substrates, async () => {
    const { substrates, config_error } = await ctx.client.substrates();
    return { substrates, config_error };
  });

  route(app, API.bootstrapState, async ({ id }) => {
    await findBoxSubstrate(ctx.client, id, false);
    return { state: await ctx.client.bootstrapState(id) };
  });

  route(app, API.createSession, async ({ body, reply }) => {
    const { sessionId } = await ctx.client.createSession({
      runtime: body.runtime,
      shell: body.command,
      args: body.args,
      cwd: body.cwd,
      name: body.name,
      cols: body.cols,
      rows: body.rows,
      substrate: body.substrate,
      env: body.env,
    });
    reply.code(201);
    return { session: await findSession(ctx.client, sessionId) };
  });

  route(app, API.getSession, async ({ id }) => ({ session: await findSession(ctx.client, id) }));

  route(app, API.deleteSession, async ({ id, query }) => {
    await ctx.client.close(id);
    const session = await findSession(ctx.client, id);
    if (query.remove === '1') await ctx.client.remove(id);
    return { session };
  });

  route(app, API.input, async ({ id, body }) => {
    let bytes: Buffer;
    if (body.data !== undefined) {
      bytes = Buffer.from(body.data, 'utf8');
    } else {
      const encoded = body.data_base64 ?? '';
      if (!BASE64.test(encoded) || encoded.length % 4 !== 0) {
        throw new HttpError(400, 'bad_request', 'invalid body: data_base64: must be base64');
      }
      bytes = Buffer.from(encoded, 'base64');
    }
    // At least one write, even of nothing, so an unknown session is reported.
    let start = 0;
    do {
      await ctx.client.write(id, bytes.subarray(start, start + INPUT_CHUNK_BYTES));
      start += INPUT_CHUNK_BYTES;
    } while (start < bytes.length);
    return { ok: true };
  });

  route(app, API.resize, async ({ id, body }) => {
    await ctx.client.resize(id, body.cols, body.rows);
    return { session: await findSession(ctx.client, id) };
  });

  route(app, API.restart, async ({ id, body, reply }) => {
    const sessionId = await ctx.client.restart(id, body.resume ?? true);
    reply.code(201);
    return { session_id: sessionId, session: await findSession(ctx.client, sessionId) };
  });

  route(app, API.prompt, async ({ id, body, reply }) => {
    const prompt = await ctx.client.sendPrompt(id, body.text);
    reply.code(202);
    return { prompt };
  });

  route(app, API.sessionPrompts, async ({ id }) => ({ prompts: await ctx.client.prompts(id) }));
  route(app, API.prompts, async () => ({ prompts: await ctx.client.prompts() }));
  route(app, API.cancelPrompt, async ({ id }) => ({ prompt: await ctx.client.cancelPrompt(id) }));

  route(app, API.dispatch, async ({ request, body, reply }) => {
    const dispatched = await dispatchAcrossFleet(
      { client: ctx.client, ...ctx.federation },
      body,
      fromPeer(request),
    );
    reply.code(202);
    return dispatched;
  });

  route(app, API.screen, async ({ id, query }) => {
    if (query.format === 'ansi') {
      const { type: _type, req_id: _request, data, ...geometry } = await ctx.client.snapshot(id);
      return { ...geometry, ansi: data };
    }
    const { type: _type, req_id: _request, ...screen } = await ctx.client.screen(id);
    return screen;
  });

  route(app, API.output, async ({ id, query, reply }) => {
    if (query.from !== undefined && query.to !== undefined && query.to < query.from) {
      throw new HttpError(400, 'bad_request', 'invalid query: to: must not be below from');
    }
    const first = await ctx.client.readOutput(id, query.from, OUTPUT_READ_BYTES);
    const start = first.offset;
    const end = Math.min(query.to ?? first.lastOffset, first.lastOffset, start + MAX_OUTPUT_BYTES);
    const head = first.data.subarray(0, Math.max(0, end - start));
    reply
      .type('application/octet-stream')
      .header('X-Tower-Offset', String(start))
      .header('X-Tower-First-Offset', String(first.firstOffset))
      .header('X-Tower-Last-Offset', String(first.lastOffset))
      .header('Content-Length', String(Math.max(0, end - start)));
    return Readable.from(readRange(ctx.client, id, head, start + head.length, end));
  });
}

async function* readRange(
  client: TowerClient,
  id: string,
  head: Buffer,
  from: number,
  end: number,
): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  let offset = from;
  while (offset < end) {
    const chunk = await client.readOutput(id, offset, Math.min(OUTPUT_READ_BYTES, end - offset));
    if (chunk.data.length === 0) return;
    yield chunk.data;
    offset += chunk.data.length;
  }
}
