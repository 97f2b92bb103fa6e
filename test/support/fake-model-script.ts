/**
 * The fake model's script (see fake-model.ts): which reply a request gets, and small helpers shared by
 * the API dialects (SSE framing, ids).
 */
import type { ServerResponse } from 'node:http';

/** What a request asks of the script: the last real user text, or the command whose result came back. */
export interface Turn {
  userText: string | null;
  ran: string | null;
}

/** A reply the CLI should give: plain text (optionally streamed slowly) or a shell tool call. */
export type Reply = { kind: 'text'; text: string; overMs: number } | { kind: 'tool'; command: string };

const INJECTED = /^\s*<([a-z_-]+)[\s>]|^# AGENTS\.md|^Caveat:/i;
/** Prompts of the CLIs' own side requests (thread titles, summaries): answered `ok`, whatever they quote. */
const SIDE_PROMPT =
  /^(Generate a concise, single-line task title|Please write a 5-10 word title|Summarize this coding conversation)/i;

/** Whether a request is a side request: no tools offered (when `toolsMatter`), or a known side prompt. */
export function isSide(userText: string | null, tools: unknown, toolsMatter: boolean): boolean {
  if (userText !== null && SIDE_PROMPT.test(userText.trim())) return true;
  return toolsMatter && (!Array.isArray(tools) || tools.length === 0);
}

/** The script: maps the last user text (or a returned tool result) to a reply. */
export function decide(
  userText: string | null,
  ranCommand: string | null,
  side: boolean,
  schema?: unknown,
): Reply {
  if (side) return { kind: 'text', text: schema ? JSON.stringify(sampleOf(schema)) : 'ok', overMs: 0 };
  if (ranCommand !== null) return { kind: 'text', text: `ran ${ranCommand}`, overMs: 0 };
  const text = (userText ?? '').trim();
  let m = /^say\s+([\s\S]+)$/.exec(text);
  if (m) return { kind: 'text', text: m[1] as string, overMs: 0 };
  m = /^run\s+([\s\S]+)$/.exec(text);
  if (m) return { kind: 'tool', command: m[1] as string };
  m = /^slow\s+(\d+)\s+([\s\S]+)$/.exec(text);
  if (m) return { kind: 'text', text: m[2] as string, overMs: Number(m[1]) };
  return { kind: 'text', text: 'ok', overMs: 0 };
}

type Schema = { type?: string; properties?: Record<string, Schema> };

/** A value matching a JSON schema (side requests that want structured output, e.g. `{"title": …}`). */
export function sampleOf(schema: unknown): unknown {
  const s = schema as Schema;
  const type = s.type?.toLowerCase();
  if (type === 'object' || s.properties) {
    return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, sampleOf(v)]));
  }
  if (type === 'array') return [];
  if (type === 'number' || type === 'integer') return 1;
  if (type === 'boolean') return false;
  return 'Fake session';
}

/** Picks the last text that a person typed, skipping blocks the CLI injected as context. */
export function lastRealText(texts: string[]): string | null {
  for (let i = texts.length - 1; i >= 0; i--) {
    const t = texts[i] as string;
    if (t.trim() !== '' && !INJECTED.test(t)) return t;
  }
  return null;
}

/** Splits text into chunks (words with their following space) to stream over `overMs`, each after a pause. */
export function chunksOf(text: string, overMs: number): { chunks: string[]; delayMs: number } {
  if (overMs <= 0) return { chunks: [text], delayMs: 0 };
  const chunks = text.match(/\S+\s*/g) ?? [text];
  return { chunks, delayMs: Math.floor(overMs / Math.max(1, chunks.length)) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sse(res: ServerResponse): (event: string | null, data: unknown) => void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  return (event, data) => {
    res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  };
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

let idCounter = 0;
export const newId = (prefix: string) =>
  `${prefix}_fake${Date.now().toString(36)}${(++idCounter).toString(36)}`;
