/**
 * The Gemini API dialect of the fake model (fake-model.ts), for Gemini CLI:
 * `POST /v1beta/models/<model>:generateContent` and `:streamGenerateContent?alt=sse`.
 */
import type { ServerResponse } from 'node:http';
import { chunksOf, json, lastRealText, type Reply, sleep, sse, type Turn } from './fake-model-script.js';

type Part = {
  text?: string;
  thought?: boolean;
  functionCall?: { name: string; args?: { command?: string } };
  functionResponse?: { name: string };
};
type Content = { role?: string; parts?: Part[] };
type Declaration = { name: string };
type ToolGroup = { functionDeclarations?: Declaration[] };

export function geminiTools(body: Record<string, unknown>): Declaration[] {
  return ((body.tools as ToolGroup[] | undefined) ?? []).flatMap((t) => t.functionDeclarations ?? []);
}

export function geminiTurn(body: Record<string, unknown>): Turn {
  const contents = (body.contents as Content[] | undefined) ?? [];
  const last = [...contents].reverse().find((c) => c.role !== 'model');
  if (!last) return { userText: null, ran: null };
  const parts = last.parts ?? [];
  const userText = lastRealText(parts.map((p) => p.text ?? ''));
  const response = parts.find((p) => p.functionResponse);
  if (response && userText === null) {
    const calls = contents.flatMap((c) => (c.role === 'model' ? (c.parts ?? []) : []));
    const call = calls.reverse().find((p) => p.functionCall?.name === response.functionResponse?.name);
    return { userText: null, ran: call?.functionCall?.args?.command ?? '' };
  }
  return { userText, ran: null };
}

export async function handleGemini(
  body: Record<string, unknown>,
  res: ServerResponse,
  reply: Reply,
  url: string,
): Promise<void> {
  const model = /models\/([^:/]+):/.exec(url)?.[1] ?? 'gemini-fake';
  const usageMetadata = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };
  const frame = (parts: Part[], finish: boolean) => ({
    candidates: [
      { content: { role: 'model', parts }, index: 0, ...(finish ? { finishReason: 'STOP' } : {}) },
    ],
    usageMetadata,
    modelVersion: model,
  });
  const streaming = url.includes(':streamGenerateContent');
  let frames: { parts: Part[]; delayMs: number }[];
  if (reply.kind === 'tool') {
    const names = geminiTools(body).map((d) => d.name);
    const name =
      names.find((n) => n === 'run_shell_command') ??
      names.find((n) => /shell/.test(n)) ??
      'run_shell_command';
    frames = [{ parts: [{ functionCall: { name, args: { command: reply.command } } }], delayMs: 0 }];
  } else {
    const { chunks, delayMs } = chunksOf(reply.text, reply.overMs);
    frames = chunks.map((text) => ({ parts: [{ text }], delayMs }));
  }
  if (!streaming) {
    const parts = reply.kind === 'tool' ? (frames[0]?.parts ?? []) : [{ text: reply.text }];
    json(res, 200, frame(parts, true));
    return;
  }
  const send = sse(res);
  for (const [i, f] of frames.entries()) {
    if (f.delayMs > 0) await sleep(f.delayMs);
    if (res.destroyed) return;
    send(null, frame(f.parts, i === frames.length - 1));
  }
  res.end();
}
