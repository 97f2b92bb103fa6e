/**
 * Tower's MCP server: tools for a head agent over the whole fleet. Every tool goes through the local
 * Tower's web API (the typed client), so a `PEER/ID` session is reached exactly as a local one and the
 * MCP server holds no state of its own but the spawn budget.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { TowerHttpClient } from '../client/http-client.js';
import { MAX_PROMPT_CHARS } from '../protocol/agents.js';
import { API } from '../protocol/api.js';
import { attention } from './attention.js';
import {
  compactRuntime,
  compactSession,
  compactSubstrate,
  failure,
  ok,
  sameId,
  sessionLine,
} from './format.js';
import type { SpawnGuard } from './guard.js';
import { readOutput } from './output.js';
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, waitForStatus } from './wait.js';

export interface TowerMcpOptions {
  /** The local Tower's web API, asked for at each call: a restarted serve is found again. */
  client: () => TowerHttpClient;
  guard: SpawnGuard;
  version: string;
  /** Where a local spawn without a cwd runs (`tower mcp`: the directory its client started it in). */
  defaultCwd?: string;
}

/** A list longer than this is cut (and says so): a result must fit in a model's context. */
const MAX_LISTED = 200;

const INSTRUCTIONS =
  'Tower runs coding agents in terminal sessions, here and on peer Towers. Typical use: spawn_agent, ' +
  'send_prompt, wait_for_status with the prompt_id it returned (blocks until the turn ends), then ' +
  'read_screen. Session ids are stable; a session on a peer is PEER/ID. attention lists what needs a person.';

const sessionId = z
  .string()
  .min(1)
  .max(200)
  .describe('a session id from list_sessions or spawn_agent (PEER/ID for one on a peer)');
const agentState = z.enum(['starting', 'idle', 'busy', 'needs_input', 'exited']);

async function safely(work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await work();
  } catch (error) {
    return failure(error);
  }
}

export function createTowerMcpServer(options: TowerMcpOptions): McpServer {
  const server = new McpServer({ name: 'tower', version: options.version }, { instructions: INSTRUCTIONS });
  const { guard } = options;
  const readOnly = { readOnlyHint: true, openWorldHint: false };

  server.registerTool(
    'list_sessions',
    {
      description:
        'Sessions here and on every reachable peer: id, runtime, state (idle, busy, needs_input…), cwd',
      inputSchema: {
        scope: z
          .enum(['all', 'local'])
          .optional()
          .describe('all (default): with the peers; local: here only'),
        running_only: z.boolean().optional().describe('leave out exited and lost sessions'),
      },
      annotations: readOnly,
    },
    ({ scope, running_only }) =>
      safely(async () => {
        const query = { scope: scope === 'local' ? undefined : 'all' };
        const { sessions } = await options.client().call(API.listSessions, { query });
        const all = sessions.map(compactSession).filter((s) => !running_only || s.status === 'running');
        const listed = all.slice(0, MAX_LISTED);
        const more = all.length - listed.length;
        const text = listed.map(sessionLine).join('\n') || 'no sessions';
        return ok(more > 0 ? `${text}\n(${more} more not listed)` : text, {
          sessions: listed,
          not_listed: more,
        });
      }),
  );

  server.registerTool(
    'list_runtimes',
    {
      description: 'The runtimes spawn_agent can start (claude, codex, shell…): ready or what is missing',
      annotations: readOnly,
    },
    () =>
      safely(async () => {
        const runtimes = (await options.client().call(API.runtimes)).map(compactRuntime);
        const text = runtimes
          .map(
            (r) =>
              `${r.name}  ${r.ready ? 'ready' : `not ready: ${r.missing.join(', ') || 'not installed'}`}`,
          )
          .join('\n');
        return ok(text, { runtimes });
      }),
  );

  server.registerTool(
    'list_substrates',
    {
      description: 'Where sessions can run on this Tower (local, sandboxes, ssh and docker boxes)',
      annotations: readOnly,
    },
    () =>
      safely(async () => {
        const { substrates } = await options.client().call(API.substrates);
        const compact = substrates.map(compactSubstrate);
        const text = compact.map((s) => `${s.name}  ${s.type}  ${s.state}${s.reason ? `: ${s.reason}` : ''}`);
        return ok(text.join('\n'), { substrates: compact });
      }),
  );

  server.registerTool(
    'spawn_agent',
    {
      description:
        'Start an agent (or the shell) in a new session, here, on a substrate, or on a peer Tower. ' +
        'Returns its id. Limited by the spawn budget and depth this server was given.',
      inputSchema: {
        runtime: z
          .string()
          .regex(/^[a-z][a-z0-9_-]{0,31}$/)
          .describe('a runtime from list_runtimes: claude, codex, gemini, opencode, shell…'),
        cwd: z
          .string()
          .min(1)
          .max(4096)
          .optional()
          .describe('its working directory, on the machine it runs on'),
        substrate: z.string().min(1).max(64).optional().describe('a substrate from list_substrates'),
        peer: z
          .string()
          .min(1)
          .max(63)
          .optional()
          .describe('a peer Tower to run it on (the PEER of PEER/ID)'),
        name: z.string().max(200).optional().describe('a display name'),
        args: z
          .array(z.string().max(4096))
          .max(64)
          .optional()
          .describe("extra arguments after the runtime's own"),
      },
    },
    ({ runtime, cwd, substrate, peer, name, args }) =>
      safely(async () => {
        guard.take();
        try {
          const local = peer === undefined && substrate === undefined;
          const body = {
            runtime,
            cwd: cwd ?? (local ? options.defaultCwd : undefined),
            substrate,
            name,
            args,
            env: guard.childEnv(),
          };
          const client = options.client();
          const { session } =
            peer === undefined
              ? await client.call(API.createSession, { body })
              : await client.call(API.peerCreateSession, { id: peer, body });
          const compact = compactSession(session);
          const left = guard.limits.maxSpawn - guard.used;
          return ok(`spawned ${compact.id} (${runtime}, ${compact.state}); ${left} more spawns allowed`, {
            session: compact,
            spawns_left: left,
          });
        } catch (error) {
          guard.release();
          throw error;
        }
      }),
  );

  server.registerTool(
    'send_prompt',
    {
      description:
        'Type a prompt into an agent and submit it (queued while it is busy). Then wait_for_status with the ' +
        'returned prompt_id to wait for its answer.',
      inputSchema: { session_id: sessionId, text: z.string().min(1).max(MAX_PROMPT_CHARS) },
    },
    ({ session_id, text }) =>
      safely(async () => {
        const { prompt } = await options.client().call(API.prompt, { id: session_id, body: { text } });
        const waiting = prompt.waiting ? ` (${prompt.waiting})` : '';
        return ok(
          `prompt ${prompt.id} ${prompt.state}${waiting}: wait_for_status with prompt_id ${prompt.id}`,
          {
            session_id,
            prompt_id: prompt.id,
            state: prompt.state,
            waiting: prompt.waiting,
          },
        );
      }),
  );

  server.registerTool(
    'wait_for_status',
    {
      description:
        'Block until the session reaches one of the states (default: idle or needs_input), after the ' +
        'prompt (prompt_id) was delivered; sends progress notifications while it waits. Returns reached: ' +
        'false with the reason when it timed out, the session ended, or the prompt failed.',
      inputSchema: {
        session_id: sessionId,
        until: z.array(agentState).min(1).max(5).optional().describe('default: ["idle", "needs_input"]'),
        prompt_id: z.string().min(1).max(100).optional().describe('from send_prompt: wait for its turn'),
        timeout_seconds: z
          .number()
          .int()
          .min(1)
          .max(MAX_WAIT_SECONDS)
          .optional()
          .describe(`default ${DEFAULT_WAIT_SECONDS}, at most ${MAX_WAIT_SECONDS}`),
      },
      annotations: readOnly,
    },
    ({ session_id, until, prompt_id, timeout_seconds }, extra) =>
      safely(async () => {
        const token = extra._meta?.progressToken;
        let last = -1;
        const progress =
          token === undefined
            ? null
            : async (done: number, total: number, message: string) => {
                last = Math.max(last + 1, done);
                await extra.sendNotification({
                  method: 'notifications/progress',
                  params: { progressToken: token, progress: last, total, message },
                });
              };
        const outcome = await waitForStatus(
          options.client(),
          {
            id: session_id,
            until: until ?? ['idle', 'needs_input'],
            promptId: prompt_id,
            timeoutSeconds: timeout_seconds ?? DEFAULT_WAIT_SECONDS,
          },
          progress,
          extra.signal,
        );
        const { session } = outcome;
        const seconds = Math.round(outcome.waited_ms / 1000);
        const text = outcome.reached
          ? `${session.id} is ${session.state} (${session.reason}) after ${seconds} s`
          : `${session.id} stopped waiting (${outcome.stopped}${outcome.prompt?.error ? `: ${outcome.prompt.error}` : ''}) after ${seconds} s; it is ${session.state} (${session.reason})`;
        return ok(text, { ...outcome });
      }),
  );

  server.registerTool(
    'read_screen',
    {
      description: "The session's visible screen as text (what a person would see now)",
      inputSchema: { session_id: sessionId },
      annotations: readOnly,
    },
    ({ session_id }) =>
      safely(async () => {
        const screen = await options.client().call(API.screen, { id: session_id });
        const text = (screen.text ?? '').replace(/\s+$/, '');
        return ok(text || '(the screen is empty)', {
          ...sameId(session_id),
          offset: screen.offset,
          cols: screen.cols,
          rows: screen.rows,
          cursor_x: screen.cursor_x,
          cursor_y: screen.cursor_y,
          text,
        });
      }),
  );

  server.registerTool(
    'read_output',
    {
      description:
        "The session's output from a byte offset (default: the latest bytes), escape sequences removed " +
        'unless raw. Returns next_offset: pass it as offset to read on.',
      inputSchema: {
        session_id: sessionId,
        offset: z.number().int().min(0).optional().describe('where to start (next_offset of the last read)'),
        max_bytes: z.number().int().min(64).max(65_536).optional().describe('default 16384'),
        raw: z.boolean().optional().describe('keep escape sequences'),
      },
      annotations: readOnly,
    },
    ({ session_id, offset, max_bytes, raw }) =>
      safely(async () => {
        const read = await readOutput(
          options.client(),
          session_id,
          offset,
          max_bytes ?? 16_384,
          raw ?? false,
        );
        const tail = read.more ? `\n(more: read on from offset ${read.next_offset})` : '';
        return ok(`${read.text || '(no output in this range)'}${tail}`, { ...read });
      }),
  );

  server.registerTool(
    'attention',
    {
      description: 'What needs a person: agents waiting for input (a dialog), lost sessions, failed prompts',
      annotations: readOnly,
    },
    () =>
      safely(async () => {
        const items = await attention(options.client());
        const text = items.map((item) => `${item.session_id}  ${item.kind}  ${item.detail}`).join('\n');
        return ok(text || 'nothing needs attention', { items });
      }),
  );

  server.registerTool(
    'kill_session',
    {
      description: 'End a session (its program is hung up, then killed); remove also forgets it',
      inputSchema: { session_id: sessionId, remove: z.boolean().optional() },
      annotations: { destructiveHint: true, openWorldHint: false },
    },
    ({ session_id, remove }) =>
      safely(async () => {
        const query = { remove: remove ? '1' : undefined };
        const { session } = await options.client().call(API.deleteSession, { id: session_id, query });
        const compact = { ...compactSession(session), ...sameId(session_id) };
        const code = session.exit_code ?? (session.exit_signal ? `signal ${session.exit_signal}` : 'none');
        return ok(`${session_id} ${compact.status} (exit ${code})${remove ? ', removed' : ''}`, {
          session: compact,
          removed: remove ?? false,
        });
      }),
  );

  return server;
}
