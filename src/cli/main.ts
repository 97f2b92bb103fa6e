#!/usr/bin/env node
/** The `tower` command. Everything but `serve` and `token` talks to the daemon through the client module. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ClientError, TowerClient } from '../client/client.js';
import type { SessionInfo } from '../protocol/index.js';
import { resolveStateDir, tokenPath, viewerTokenPath } from '../state/paths.js';
import { ensureToken, writeNewToken } from '../state/token.js';
import { addAgentCommands, sendPrompt } from './agents.js';
import { DEFAULT_DETACH_KEY, parseDetachKey } from './detach-key.js';
import { escapeControls, escapeLines, terminalJson } from './escape.js';
import {
  addFleetCommands,
  isRemoteRef,
  listAll,
  peerNotes,
  remoteKill,
  remoteRemove,
  remoteScreen,
  remoteSend,
} from './fleet.js';
import { hostCommand } from './host.js';
import { printLogs } from './logs.js';
import { mcpCommand } from './mcp.js';
import { collectEnv, isRemote, parseCount, remoteCwd, sessionCwd } from './options.js';
import { peerCommand } from './peers.js';
import { serveCommand } from './serve.js';
import { addSubstrateCommands } from './substrates.js';
import { formatColumns } from './table.js';
import { reportUsage, throwUsageErrors, UsageError } from './usage.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// A reader that stops early (`tower logs ID | head`) ends the output, not in error: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const program = new Command('tower')
  .description('Tower: keeps terminal sessions for coding agents alive, lossless, and shareable')
  .version(version, '-V, --version', 'print the version')
  .option('--state-dir <dir>', 'state directory (default: $TOWER_STATE_DIR or ~/.tower)');

const stateDir = () => resolveStateDir(program.opts<{ stateDir?: string }>().stateDir);
const connect = () => TowerClient.connect({ stateDir: stateDir() });

/** Run with a connected client; the connection is closed afterwards. */
async function withClient<T>(work: (client: TowerClient) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await work(client);
  } finally {
    client.end();
  }
}

program.addCommand(serveCommand(stateDir));
program.addCommand(hostCommand(stateDir));
program.addCommand(peerCommand(stateDir));
program.addCommand(mcpCommand(stateDir, version));
addAgentCommands(program, withClient, stateDir);
addSubstrateCommands(program, withClient);
addFleetCommands(program, stateDir);

const SESSION_REF = "a session: its id, its name, or a unique prefix of its id; PEER/… for a peer's";

program
  .command('spawn')
  .description(
    'start a session and print its id: a runtime (claude, codex, … ; default: your shell) or a command',
  )
  .option('--name <name>', 'a name for the session')
  .option(
    '--cwd <dir>',
    'working directory (default: here; with --on a remote substrate: a path there, default ~)',
  )
  .option('--runtime <name>', 'the runtime (also: the first argument, when it names one)')
  .option('--on <substrate>', 'where to run it: a substrate from `tower substrates` (default: local)')
  .option('--cols <n>', 'columns', parseCount)
  .option('--rows <n>', 'rows', parseCount)
  .option(
    '--env <name[=value]>',
    "set a variable for the session (repeatable); NAME alone passes this shell's value",
    collectEnv,
    {} as Record<string, string>,
  )
  .argument('[runtime-or-command...]', 'runtime or command, then its extra arguments after --')
  .action(
    async (
      words: string[],
      options: {
        name?: string;
        cwd?: string;
        runtime?: string;
        on?: string;
        cols?: number;
        rows?: number;
        env: Record<string, string>;
      },
    ) => {
      const { sessionId } = await withClient(async (client) => {
        const remote = await isRemote(client, options.on);
        const common = {
          substrate: options.on,
          cwd: remote ? remoteCwd(options.cwd) : sessionCwd(options.cwd ?? process.cwd()),
          name: options.name,
          cols: options.cols ?? (process.stdout.isTTY ? process.stdout.columns : undefined),
          rows: options.rows ?? (process.stdout.isTTY ? process.stdout.rows : undefined),
          env: Object.keys(options.env).length > 0 ? options.env : undefined,
        };
        if (options.runtime)
          return client.createSession({ ...common, runtime: options.runtime, args: words });
        const [first, ...rest] = words;
        if (first === undefined) return client.createSession({ ...common, runtime: 'shell' });
        if (!/^[a-z][a-z0-9_-]{0,31}$/.test(first))
          return client.createSession({ ...common, shell: first, args: rest });
        // A word that names no runtime is a command (`tower spawn bash -l`).
        return client.createSession({ ...common, runtime: first, args: rest }).catch((error: unknown) => {
          if (error instanceof ClientError && error.code === 'unknown_runtime')
            return client.createSession({ ...common, shell: first, args: rest });
          throw error;
        });
      });
      process.stdout.write(`${escapeLines(sessionId)}\n`);
    },
  );

program
  .command('ls')
  .description('list sessions (on a terminal, fitted to its width)')
  .option('--json', 'print JSON (snake_case fields, as in the protocol)')
  .option('--all', "also every peer's sessions, as PEER/ID (through tower serve)")
  .action(async (options: { json?: boolean; all?: boolean }) => {
    if (options.all) {
      const { sessions, peers } = await listAll(stateDir());
      const text = options.json ? `${terminalJson({ sessions, peers }, 2)}\n` : formatTable(sessions);
      process.stdout.write(text + (options.json ? '' : peerNotes(peers)));
      return;
    }
    const sessions = await withClient((client) => client.list());
    process.stdout.write(options.json ? `${terminalJson(sessions, 2)}\n` : formatTable(sessions));
  });

program
  .command('attach')
  .description('attach this terminal to a session (detach with Ctrl-\\, or --detach-key)')
  .argument('<session>', SESSION_REF)
  .option(
    '--detach-key <key>',
    `the key that detaches, e.g. ctrl-] (default: $TOWER_DETACH_KEY, else ${DEFAULT_DETACH_KEY}); press it twice to send it`,
    parseDetachKey,
  )
  .action(async (ref: string, options: { detachKey?: number }) => {
    const detachKey = options.detachKey ?? defaultDetachKey();
    // Loaded here: only attach needs a terminal emulator (for the fitted view).
    const code = ref.includes('/')
      ? await (await import('./attach-remote.js')).attachRemote(stateDir(), ref, detachKey)
      : await (await import('./attach.js')).attach({ stateDir: stateDir() }, ref, detachKey);
    process.exit(code);
  });

function defaultDetachKey(): number {
  const spec = process.env.TOWER_DETACH_KEY || DEFAULT_DETACH_KEY;
  try {
    return parseDetachKey(spec);
  } catch (error) {
    throw new UsageError(`TOWER_DETACH_KEY ${(error as Error).message}`, 'tower attach');
  }
}

program
  .command('send')
  .description('type text into a session, or (--prompt) submit a prompt to an agent, queued while it is busy')
  .argument('<session>', SESSION_REF)
  .argument('[text]')
  .option('--enter', 'press Enter after the text')
  .option('--prompt <text>', 'a prompt: pasted, submitted and verified; waits for delivery unless queued')
  .option('--wait', 'with --prompt: wait for delivery even when queued')
  .action(
    async (
      ref: string,
      text: string | undefined,
      options: { enter?: boolean; prompt?: string; wait?: boolean },
    ) => {
      if (options.prompt === undefined && text === undefined) {
        throw new UsageError('nothing to send: give TEXT or --prompt TEXT', 'tower send');
      }
      if (isRemoteRef(ref)) return remoteSend(stateDir(), ref, { text, ...options });
      await withClient(async (client) => {
        const id = await client.sessionId(ref);
        if (options.prompt !== undefined)
          return sendPrompt(client, id, options.prompt, options.wait === true);
        await client.write(id, options.enter ? `${text}\r` : text!);
      });
    },
  );

program
  .command('screen')
  .description('print the current screen as plain text')
  .argument('<session>', SESSION_REF)
  .action(async (ref: string) => {
    if (isRemoteRef(ref)) return remoteScreen(stateDir(), ref);
    const screen = await withClient(async (client) => client.screen(await client.sessionId(ref)));
    process.stdout.write(`${escapeLines(screen.text.replace(/\n+$/, ''))}\n`);
  });

program
  .command('logs')
  .description('print raw output bytes from the journal (as the program wrote them: nothing is escaped)')
  .argument('<session>', SESSION_REF)
  .option('--from <offset>', 'start at this absolute offset (default: earliest retained)', parseCount)
  .option('-f, --follow', 'keep printing new output until the session ends (waits for a restarting daemon)')
  .action(async (ref: string, options: { from?: number; follow?: boolean }) => {
    if (isRemoteRef(ref)) {
      // Loaded only here: it needs ws, which the copy of Tower on a box does not carry.
      const { remoteLogs } = await import('./logs-remote.js');
      return remoteLogs(stateDir(), ref, options.from, options.follow === true);
    }
    await printLogs({ stateDir: stateDir() }, ref, options.from, options.follow === true);
  });

program
  .command('kill')
  .description('end a session (SIGHUP, then SIGKILL)')
  .argument('<session>', SESSION_REF)
  .action(async (ref: string) => {
    if (isRemoteRef(ref)) return remoteKill(stateDir(), ref);
    await withClient(async (client) => client.close(await client.sessionId(ref)));
  });

program
  .command('rm')
  .description('forget an exited or lost session and its output')
  .argument('<session...>', SESSION_REF)
  .action(async (refs: string[]) => {
    await withClient(async (client) => {
      for (const ref of refs) {
        if (isRemoteRef(ref)) {
          await remoteRemove(stateDir(), ref);
          continue;
        }
        const id = await client.sessionId(ref);
        await client.remove(id).catch((error: unknown) => {
          if (error instanceof ClientError && error.code === 'session_running') {
            throw new ClientError(
              error.code,
              `session ${id} is running; end it first with: tower kill ${id}`,
            );
          }
          throw error;
        });
      }
    });
  });

program
  .command('rename')
  .description("change a session's name ('' removes it)")
  .argument('<session>', SESSION_REF)
  .argument('<name>')
  .action(async (ref: string, name: string) => {
    await withClient(async (client) => client.rename(await client.sessionId(ref), name));
  });

program
  .command('token')
  .description('print the auth token (--rotate: replace it; --viewer: the read-only web token)')
  .option('--rotate', 'write a new token; clients must use it from now on')
  .option('--viewer', 'the viewer token: may watch sessions in the web workspace, not type or change them')
  .action((options: { rotate?: boolean; viewer?: boolean }) => {
    const file = options.viewer ? viewerTokenPath(stateDir()) : tokenPath(stateDir());
    process.stdout.write(`${options.rotate ? writeNewToken(file) : ensureToken(file)}\n`);
  });

function formatTable(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  const width = process.stdout.isTTY ? process.stdout.columns : 0;
  // Name, command and cwd give way, widest first, then bytes and pid go; ids stay whole.
  const fit = width > 0 ? { width, shrinkable: [1, 6, 7], droppable: [8, 5] } : {};
  return (
    formatColumns(
      ['ID', 'NAME', 'RUNTIME', 'STATUS', 'AGENT', 'PID', 'COMMAND', 'CWD', 'BYTES'],
      sessions.map((s) => [
        s.id,
        s.name ?? '',
        s.runtime ?? '-',
        (s.status === 'exited'
          ? `exited(${s.exit_signal ? `sig ${s.exit_signal}` : s.exit_code})`
          : s.status === 'running' && s.link?.state === 'disconnected'
            ? `disconnected (${s.link.reason})`
            : s.status) + (s.journal.error ? ' !unsaved' : s.journal.gaps.length > 0 ? ' !gaps' : ''),
        s.agent.state + (s.queued_prompts > 0 ? ` +${s.queued_prompts} queued` : ''),
        s.pid === null || s.status !== 'running' ? '' : String(s.pid),
        [s.shell, ...s.args].join(' '),
        s.cwd,
        String(s.last_offset),
      ]),
      fit,
    ) + journalNotes(sessions)
  );
}

/** One line per session whose output is not being saved, or has gaps on disk (marked ! in STATUS). */
function journalNotes(sessions: SessionInfo[]): string {
  const notes = sessions.flatMap(({ id, journal }) => {
    if (journal.error) return [`! ${id}: ${journal.error}`];
    if (journal.gaps.length === 0) return [];
    const bytes = journal.gaps.reduce((sum, gap) => sum + gap.to - gap.from, 0);
    return [
      `! ${id}: ${bytes} bytes of output in ${journal.gaps.length} range(s) are missing or damaged on disk`,
    ];
  });
  return notes.map((note) => `${escapeControls(note)}\n`).join('');
}

throwUsageErrors(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const usage = reportUsage(error);
  if (usage !== null) process.exit(usage);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tower: ${escapeLines(message)}\n`);
  const code = error instanceof ClientError && error.code === 'daemon_not_running' ? 3 : 1;
  process.exit(code);
});
