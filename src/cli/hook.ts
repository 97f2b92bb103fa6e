/**
 * `tower hook <runtime> [json]`: run by an agent's own hooks (Claude Code hooks, Codex notify) inside a
 * Tower session, it reports the event. Where the session host takes in-band signals ($TOWER_SIGNAL_KEY
 * set) it writes one to the session's own terminal, which works on every substrate; before that it
 * sent an agent_signal over the daemon's socket (or a sandbox's hook socket). It must never disturb
 * the agent: it prints nothing on its output, always exits 0, and gives up quickly.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { isatty } from 'node:tty';
import { MAX_SIGNAL_BODY_BYTES, SIGNAL_KEY_ENV, signalSequence } from '../protocol/inband-signal.js';
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
const MAX_EVENT_CHARS = 128;
const STDIN_WAIT_MS = 2000;
const GIVE_UP_MS = 5000;
const WRITE = constants.O_WRONLY | constants.O_NOCTTY;
/** The hook's shell, the agent, and a wrapper or two around it. */
const MAX_ANCESTORS = 4;

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
    const event = String(payload.hook_event_name ?? payload.type ?? 'signal').slice(0, MAX_EVENT_CHARS);
    const key = process.env[SIGNAL_KEY_ENV];
    if (key) {
      await writeToTerminal(signalSequence(key, fittedBody(runtime.slice(0, 64), event, payload)));
      return;
    }
    // A session host before in-band signals (protocol 3).
    const signal = { type: 'agent_signal', session_id: sessionId, source: runtime, event, payload } as const;
    const channel = process.env[HOOK_SOCKET_ENV];
    if (channel) {
      await sendToChannel(channel, signal);
      return;
    }
    const { TowerClient } = await import('../client/client.js');
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

/**
 * One write to the session's terminal, whole: the terminal takes a write under one lock, so the
 * agent's own output cannot land inside the sequence. On the thread pool, so GIVE_UP_MS still holds
 * while the terminal is full.
 */
async function writeToTerminal(sequence: string): Promise<void> {
  const terminal = await openTerminal();
  try {
    await terminal.write(sequence);
  } finally {
    await terminal.close();
  }
}

/**
 * The controlling terminal; without one, the terminal the nearest ancestor writes to. Codex's notify
 * program has the agent's controlling terminal, but Claude Code starts its hooks in a session of their
 * own, where /dev/tty does not open (ENXIO): Claude Code itself writes to the session's terminal.
 */
async function openTerminal(): Promise<FileHandle> {
  try {
    return await open('/dev/tty', WRITE);
  } catch {
    // No controlling terminal: look at the agent's.
  }
  let pid = process.ppid;
  for (let level = 0; level < MAX_ANCESTORS && pid > 1; level++) {
    for (const fd of [1, 2, 0]) {
      const path = `/proc/${pid}/fd/${fd}`;
      try {
        // Opened only once known to be a device: opening a FIFO for writing could block.
        if (!(await stat(path)).isCharacterDevice()) continue;
        const handle = await open(path, WRITE);
        if (isatty(handle.fd)) return handle;
        await handle.close();
      } catch {
        // Gone, or not ours to open: the next one.
      }
    }
    pid = await parentOf(pid);
  }
  throw new Error('no terminal');
}

async function parentOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (command) state ppid …": the command may hold spaces and parentheses.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

/** The signal's JSON within the bound: the longest text is halved until it fits. */
function fittedBody(source: string, event: string, payload: Record<string, unknown>): string {
  const kept = { ...payload };
  for (;;) {
    const body = JSON.stringify({ source, event, payload: kept });
    if (Buffer.byteLength(body) <= MAX_SIGNAL_BODY_BYTES) return body;
    const longest = Object.keys(kept).reduce((a, b) =>
      String(kept[a]).length >= String(kept[b]).length ? a : b,
    );
    kept[longest] = String(kept[longest]).slice(0, Math.floor(String(kept[longest]).length / 2));
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
