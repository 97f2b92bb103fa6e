/**
 * The two API dialects of the fake model (fake-model.ts): the Anthropic Messages API that Claude Code
 * speaks and the OpenAI Responses API that Codex speaks, both streamed as server-sent events.
 */
import type { ServerResponse } from 'node:http';
import {
  chunksOf,
  json,
  lastRealText,
  newId,
  type Reply,
  sleep,
  sse,
  type Turn,
} from './fake-model-script.js';

// ---------------------------------------------------------------- Anthropic Messages API (Claude Code)

type Block = {
  type: string;
  text?: string;
  id?: string;
  tool_use_id?: string;
  input?: { command?: string };
};
type AnthropicMessage = { role: string; content: string | Block[] };

/** The last user turn: its real text, or (when it returns a Bash result) the command that was run. */
export function anthropicTurn(body: Record<string, unknown>): Turn {
  const messages = (body.messages as AnthropicMessage[] | undefined) ?? [];
  const blocksOf = (m: AnthropicMessage): Block[] =>
    typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
  const last = [...messages].reverse().find((m) => m.role === 'user');
  if (!last) return { userText: null, ran: null };
  const blocks = blocksOf(last);
  // A refused tool's result travels in the same message as the next prompt: the prompt wins.
  const userText = lastRealText(blocks.filter((b) => b.type === 'text').map((b) => b.text ?? ''));
  const result = blocks.find((b) => b.type === 'tool_result');
  if (result && userText === null) {
    const uses = messages.flatMap((m) => (m.role === 'assistant' ? blocksOf(m) : []));
    const use = uses.find((b) => b.type === 'tool_use' && b.id === result.tool_use_id);
    return { userText: null, ran: use?.input?.command ?? '' };
  }
  return { userText, ran: null };
}

export async function handleAnthropic(
  body: Record<string, unknown>,
  res: ServerResponse,
  reply: Reply,
): Promise<void> {
  const model = (body.model as string) ?? 'claude-fake';
  const id = newId('msg');
  const usage = {
    input_tokens: 10,
    output_tokens: 5,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  const toolId = newId('toolu');
  const content =
    reply.kind === 'text'
      ? [{ type: 'text', text: reply.text }]
      : [
          {
            type: 'tool_use',
            id: toolId,
            name: 'Bash',
            input: { command: reply.command, description: 'Run it' },
          },
        ];
  const stopReason = reply.kind === 'text' ? 'end_turn' : 'tool_use';
  if (body.stream !== true) {
    json(res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stopReason,
      usage,
    });
    return;
  }
  const send = sse(res);
  const start = { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage };
  send('message_start', { type: 'message_start', message: start });
  if (reply.kind === 'text') {
    send('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    });
    const { chunks, delayMs } = chunksOf(reply.text, reply.overMs);
    for (const chunk of chunks) {
      if (delayMs > 0) await sleep(delayMs);
      if (res.destroyed) return;
      send('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: chunk },
      });
    }
  } else {
    const block = { type: 'tool_use', id: toolId, name: 'Bash', input: {} };
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: block });
    const partial = JSON.stringify({ command: reply.command, description: 'Run it' });
    send('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'input_json_delta', partial_json: partial },
    });
  }
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: 5 },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

// ---------------------------------------------------------------- OpenAI Responses API (Codex)

type ResponseItem = {
  type?: string;
  role?: string;
  content?: string | { type: string; text?: string }[];
  call_id?: string;
  name?: string;
  arguments?: string;
};
type Tool = { type: string; name?: string; parameters?: { properties?: Record<string, unknown> } };

export function responsesTurn(body: Record<string, unknown>): Turn {
  const input = (body.input as ResponseItem[] | string | undefined) ?? [];
  if (typeof input === 'string') return { userText: input, ran: null };
  const last = input[input.length - 1];
  if (last?.type === 'function_call_output' || last?.type === 'custom_tool_call_output') {
    const call = input.find((i) => i.type?.endsWith('call') && i.call_id === last.call_id);
    return { userText: null, ran: commandOf(call?.arguments) };
  }
  const texts: string[] = [];
  for (const item of input) {
    if (item.role !== 'user') continue;
    if (typeof item.content === 'string') texts.push(item.content);
    else for (const c of item.content ?? []) if (c.text !== undefined) texts.push(c.text);
  }
  return { userText: lastRealText(texts), ran: null };
}

/** The shell command from a tool call's JSON arguments: `cmd` (exec_command), `command` (string or argv). */
function commandOf(args: string | undefined): string {
  try {
    const parsed = JSON.parse(args ?? '{}') as { cmd?: string; command?: string | string[] };
    const c = parsed.cmd ?? parsed.command;
    if (Array.isArray(c)) return c[c.length - 1] ?? '';
    return c ?? '';
  } catch {
    return '';
  }
}

/**
 * The shell tool Codex advertised, and the arguments to call it with. When Codex may ask for approval
 * (its permission instructions do not say "Approval policy is currently never"), the call asks to run
 * outside the sandbox, so the TUI shows its approval dialog as Claude Code does for Bash.
 */
function shellCall(body: Record<string, unknown>, command: string): { name: string; arguments: string } {
  const tools = (body.tools as Tool[] | undefined) ?? [];
  const exec = tools.find((t) => t.name === 'exec_command');
  if (exec) {
    const never = /Approval policy is currently never/i.test(JSON.stringify(body.input ?? ''));
    const canEscalate = !never && exec.parameters?.properties?.sandbox_permissions !== undefined;
    const escalate = canEscalate
      ? { sandbox_permissions: 'require_escalated', justification: `Run ${command}?` }
      : {};
    return { name: 'exec_command', arguments: JSON.stringify({ cmd: command, ...escalate }) };
  }
  if (tools.some((t) => t.name === 'shell_command'))
    return { name: 'shell_command', arguments: JSON.stringify({ command }) };
  return { name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', command] }) };
}

export async function handleResponses(
  body: Record<string, unknown>,
  res: ServerResponse,
  reply: Reply,
): Promise<void> {
  const model = (body.model as string) ?? 'gpt-fake';
  const id = newId('resp');
  const send = sse(res);
  const base = {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model,
    status: 'in_progress',
  };
  send('response.created', { type: 'response.created', response: { ...base, output: [] } });
  let item: Record<string, unknown>;
  if (reply.kind === 'text') {
    const itemId = newId('msg');
    const empty = { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] };
    send('response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: empty });
    const part = { type: 'output_text', text: '', annotations: [] };
    send('response.content_part.added', {
      type: 'response.content_part.added',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part,
    });
    const { chunks, delayMs } = chunksOf(reply.text, reply.overMs);
    for (const delta of chunks) {
      if (delayMs > 0) await sleep(delayMs);
      if (res.destroyed) return;
      send('response.output_text.delta', {
        type: 'response.output_text.delta',
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta,
      });
    }
    const done = { type: 'output_text', text: reply.text, annotations: [] };
    send('response.output_text.done', {
      type: 'response.output_text.done',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      text: reply.text,
    });
    send('response.content_part.done', {
      type: 'response.content_part.done',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: done,
    });
    item = { ...empty, status: 'completed', content: [done] };
  } else {
    const call = shellCall(body, reply.command);
    item = { id: newId('fc'), type: 'function_call', status: 'completed', call_id: newId('call'), ...call };
    send('response.output_item.added', { type: 'response.output_item.added', output_index: 0, item });
  }
  send('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item });
  const usage = {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 15,
  };
  const completed = { ...base, status: 'completed', output: [item], usage };
  send('response.completed', { type: 'response.completed', response: completed });
  res.end();
}
