/**
 * `tower hook <runtime> [json]`: run by an agent's own hooks (Claude Code hooks, Codex notify) inside a
 * Tower session, it forwards the event to the daemon as an agent_signal. It must never disturb the
 * agent: it prints nothing, always exits 0, and gives up quickly when the daemon is away.
 */
import { connect } from 'node:net';
import { TowerClient } from '../client/client.js';
import { HOOK_SOCKET_ENV } from '../protocol/names.js';

/** Only these fields travel: enough to read status and an excerpt, never prompts or tool input. */
const KEPT_FIELDS = [
  'hook_event_name',
  'notification_type',
  'message',
  'tool_name',
  'type',
  'last_assistant_message',
  'last-assistant-message',
];
const MAX_FIELD_CHARS = 500;
const STDIN_WAIT_MS = 2000;
const GIVE_UP_MS = 5000;

export async function runHook(
  stateDir: string,
  runtime: string,
  argvJson: string | undefined,
): Promise<void> {
  const sessionId = process.env.TOWER_SESSION_ID;
  if (!sessionId) return;
  const giveUp = setTimeout(() => process.exit(0), GIVE_UP_MS);
  try {
    const raw = argvJson ?? (process.stdin.isTTY ? '' : await readStdin());
    const payload = pickFields(parseObject(raw));
    const event = String(payload.hook_event_name ?? payload.type ?? 'signal');
    const signal = { type: 'agent_signal', session_id: sessionId, source: runtime, event, payload } as const;
    const channel = process.env[HOOK_SOCKET_ENV];
    if (channel) {
      await sendToChannel(channel, signal);
      return;
    }
    const client = await TowerClient.connect({ stateDir });
    try {
      await client.request(signal);
    } finally {
      client.end();
    }
  } catch {
    // The agent goes on without Tower's status; the screen fallback still works.
  } finally {
    clearTimeout(giveUp);
  }
}

/** A sandboxed session's own hook socket: one line out, the answer (or the close) back; no token. */
function sendToChannel(path: string, signal: object): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(path);
    // With a req_id the control plane answers (ack), through the host, and the call ends at once.
    socket.once('connect', () => socket.write(`${JSON.stringify({ ...signal, req_id: 1 })}\n`));
    socket.once('data', () => socket.destroy());
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    setTimeout(done, STDIN_WAIT_MS).unref();
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', done);
    process.stdin.on('error', done);
  });
}

function parseObject(raw: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function pickFields(payload: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  // Codex's notify also fires for the side thread that titles the conversation: say so, not what it asked.
  const inputs = payload['input-messages'];
  if (Array.isArray(inputs) && typeof inputs[0] === 'string') {
    kept.side_thread = String(/^Generate a concise, single-line task title/.test(inputs[0]));
  }
  for (const field of KEPT_FIELDS) {
    const value = payload[field];
    if (typeof value === 'string') kept[field] = value.slice(0, MAX_FIELD_CHARS);
  }
  return kept;
}
