/**
 * A fake model server on 127.0.0.1 for the real agent CLIs (Claude Code, Codex, Gemini CLI): it speaks
 * just enough of the Anthropic Messages API, the OpenAI Responses API and the Gemini API, streaming.
 *
 * What it answers is decided by the last real user text in the request (text blocks starting with a tag,
 * like `<system-reminder>` or `<environment_context>`, are context and ignored), so it keeps no state:
 *   `say <words>`        → the text `<words>`
 *   `run <command>`      → a call of the CLI's own shell tool (Claude `Bash`, Codex `exec_command`, Gemini
 *                          `run_shell_command`); once its result is back → `ran <command>`. For Codex the
 *                          call asks to leave the sandbox unless approvals are off, so its TUI asks first.
 *   `slow <ms> <words>`  → the words, streamed one by one over <ms> milliseconds (first one after a pause)
 *   anything else        → `ok`
 * Side requests (titles, quota checks, summaries: no tools offered, or a known side prompt) get `ok`,
 * or a JSON value of the schema they ask for (Claude Code's title request wants `{"title": …}`).
 *
 *   const server = await startFakeModel(); server.url; server.requests; await server.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicTurn, handleAnthropic, handleResponses, responsesTurn } from './fake-model-apis.js';
import { geminiTools, geminiTurn, handleGemini } from './fake-model-gemini.js';
import { decide, isSide, json, type Reply, type Turn } from './fake-model-script.js';

export { decide, lastRealText } from './fake-model-script.js';

export interface FakeRequest {
  method: string;
  path: string;
  model: string | null;
  /** The last real user text, or null when the request carries none (e.g. a tool result turn). */
  userText: string | null;
  /** A background/side request (title, quota, summary): it always gets `ok`. */
  side: boolean;
  body: unknown;
}

export interface FakeModel {
  url: string;
  port: number;
  requests: FakeRequest[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

export interface FakeModelOptions {
  /** Called with every request, e.g. to dump bodies while investigating a CLI. */
  onRequest?: (request: FakeRequest) => void;
}

type Dialect = {
  turn: (body: Record<string, unknown>) => Turn;
  /** Whether a request offering no tools is a side request (Codex sends none at all with some models). */
  noToolsIsSide: boolean;
  tools: (body: Record<string, unknown>) => unknown;
  schema: (body: Record<string, unknown>) => unknown;
  handle: (body: Record<string, unknown>, res: ServerResponse, reply: Reply, url: string) => Promise<void>;
};

type WithFormat = { format?: { schema?: unknown } } | undefined;

const ANTHROPIC: Dialect = {
  turn: anthropicTurn,
  noToolsIsSide: true,
  tools: (body) => body.tools,
  schema: (body) => (body.output_config as WithFormat)?.format?.schema,
  handle: handleAnthropic,
};
const RESPONSES: Dialect = {
  turn: responsesTurn,
  noToolsIsSide: false,
  tools: (body) => body.tools,
  schema: (body) => (body.text as WithFormat)?.format?.schema,
  handle: handleResponses,
};
const GEMINI: Dialect = {
  turn: geminiTurn,
  noToolsIsSide: true,
  tools: geminiTools,
  schema: (body) => {
    const config = body.generationConfig as
      | { responseJsonSchema?: unknown; responseSchema?: unknown }
      | undefined;
    return config?.responseJsonSchema ?? config?.responseSchema;
  },
  handle: handleGemini,
};

function dialectOf(method: string, path: string): Dialect | null {
  if (method !== 'POST') return null;
  if (path === '/v1/messages') return ANTHROPIC;
  if (path === '/v1/responses') return RESPONSES;
  if (/:(stream)?generateContent$/i.test(path)) return GEMINI;
  return null;
}

/** Small answers for the other calls the CLIs make; 404 for anything unknown (they cope). */
function answerOther(method: string, path: string, res: ServerResponse): void {
  if (method === 'POST' && path === '/v1/messages/count_tokens') json(res, 200, { input_tokens: 10 });
  else if (method === 'POST' && path.endsWith(':countTokens')) json(res, 200, { totalTokens: 10 });
  else if (method === 'GET' && path === '/v1/models')
    json(res, 200, { object: 'list', data: [], models: [] });
  else json(res, 404, { error: { type: 'not_found_error', message: `fake model: no ${method} ${path}` } });
}

export async function startFakeModel(options: FakeModelOptions = {}): Promise<FakeModel> {
  const requests: FakeRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {}
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0] as string;
      const dialect = dialectOf(method, path);
      const turn = dialect?.turn(body) ?? { userText: null, ran: null };
      const side = dialect ? isSide(turn.userText, dialect.tools(body), dialect.noToolsIsSide) : false;
      const model =
        typeof body.model === 'string' ? body.model : (/models\/([^:/]+):/.exec(path)?.[1] ?? null);
      const record: FakeRequest = { method, path, model, userText: turn.userText, side, body };
      requests.push(record);
      options.onRequest?.(record);
      try {
        if (!dialect) {
          answerOther(method, path, res);
          return;
        }
        const reply = decide(turn.userText, turn.ran, side, dialect.schema(body));
        await dialect.handle(body, res, reply, req.url ?? path);
      } catch (error) {
        if (!res.headersSent) json(res, 500, { error: { message: String(error) } });
        else res.end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
