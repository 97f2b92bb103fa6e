#!/usr/bin/env node
/** The `tower` command. Everything but `serve` and `token` talks to the daemon through the client module. */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ClientError, TowerClient } from '../client/client.js';
import type { SessionInfo } from '../protocol/index.js';
import { resolveStateDir, tokenPath, viewerTokenPath } from '../state/paths.js';
import { ensureToken, writeNewToken } from '../state/token.js';
import { addAgentCommands, sendPrompt } from './agents.js';
import { attach } from './attach.js';
import { parseCount } from './options.js';
import { serveCommand } from './serve.js';
import { formatColumns } from './table.js';

const program = new Command('tower')
  .description('Tower: keeps terminal sessions for coding agents alive, lossless, and shareable')
  .option('--state-dir <dir>', 'state directory (default: $TOWER_STATE_DIR or ~/.tower)')
  .showHelpAfterError();

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
addAgentCommands(program, withClient, stateDir);

program
  .command('spawn')
  .description(
    'start a session and print its id: a runtime (claude, codex, … ; default: your shell) or a command',
  )
  .option('--name <name>', 'a name for the session')
  .option('--cwd <dir>', 'working directory', process.cwd())
  .option('--runtime <name>', 'the runtime (also: the first argument, when it names one)')
  .option('--cols <n>', 'columns', parseCount)
  .option('--rows <n>', 'rows', parseCount)
  .argument('[runtime-or-command...]', 'runtime or command, then its extra arguments after --')
  .action(
    async (
      words: string[],
      options: { name?: string; cwd: string; runtime?: string; cols?: number; rows?: number },
    ) => {
      const common = {
        cwd: resolve(options.cwd),
        name: options.name,
        cols: options.cols ?? (process.stdout.isTTY ? process.stdout.columns : undefined),
        rows: options.rows ?? (process.stdout.isTTY ? process.stdout.rows : undefined),
      };
      const { sessionId } = await withClient(async (client) => {
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
      process.stdout.write(`${sessionId}\n`);
    },
  );

program
  .command('ls')
  .description('list sessions')
  .option('--json', 'print JSON (snake_case fields, as in the protocol)')
  .action(async (options: { json?: boolean }) => {
    const sessions = await withClient((client) => client.list());
    process.stdout.write(options.json ? `${JSON.stringify(sessions, null, 2)}\n` : formatTable(sessions));
  });

program
  .command('attach')
  .description('attach this terminal to a session (detach with Ctrl-\\)')
  .argument('<id>')
  .action(async (id: string) => {
    const client = await connect();
    const code = await attach(client, id);
    client.end();
    process.exit(code);
  });

program
  .command('send')
  .description('type text into a session, or (--prompt) submit a prompt to an agent, queued while it is busy')
  .argument('<id>')
  .argument('[text]')
  .option('--enter', 'press Enter after the text')
  .option('--prompt <text>', 'a prompt: pasted, submitted and verified; waits for delivery unless queued')
  .option('--wait', 'with --prompt: wait for delivery even when queued')
  .action(
    async (
      id: string,
      text: string | undefined,
      options: { enter?: boolean; prompt?: string; wait?: boolean },
    ) => {
      if (options.prompt !== undefined) {
        await withClient((client) => sendPrompt(client, id, options.prompt!, options.wait === true));
        return;
      }
      if (text === undefined) throw new Error('nothing to send: give TEXT or --prompt TEXT');
      await withClient((client) => client.write(id, options.enter ? `${text}\r` : text));
    },
  );

program
  .command('screen')
  .description('print the current screen as plain text')
  .argument('<id>')
  .action(async (id: string) => {
    const screen = await withClient((client) => client.screen(id));
    process.stdout.write(`${screen.text.replace(/\n+$/, '')}\n`);
  });

program
  .command('logs')
  .description('print raw output bytes from the journal')
  .argument('<id>')
  .option('--from <offset>', 'start at this absolute offset (default: earliest retained)', parseCount)
  .option('-f, --follow', 'keep printing new output until the session ends')
  .action(async (id: string, options: { from?: number; follow?: boolean }) => {
    const client = await connect();
    try {
      await printLogs(client, id, options.from, options.follow === true);
    } finally {
      client.end();
    }
  });

program
  .command('kill')
  .description('end a session (SIGHUP, then SIGKILL)')
  .argument('<id>')
  .action(async (id: string) => {
    await withClient((client) => client.close(id));
  });

program
  .command('rm')
  .description('forget an exited or lost session and its output')
  .argument('<id...>')
  .action(async (ids: string[]) => {
    await withClient(async (client) => {
      for (const id of ids) await client.remove(id);
    });
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

async function printLogs(client: TowerClient, id: string, from: number | undefined, follow: boolean) {
  let offset = from;
  for (;;) {
    const chunk = await client.readOutput(id, offset);
    if (chunk.data.length > 0) process.stdout.write(chunk.data);
    offset = chunk.offset + chunk.data.length;
    if (offset >= chunk.lastOffset) break;
  }
  if (!follow) return;
  await new Promise<void>((resolve, reject) => {
    client.on('output', ({ sessionId, data }) => {
      if (sessionId === id) process.stdout.write(data);
    });
    client.on('closed', ({ sessionId }) => sessionId === id && resolve());
    client.on('disconnect', () =>
      reject(new ClientError('disconnected', 'lost connection to the Tower daemon')),
    );
    client.subscribe(id, { fromOffset: offset }).catch(reject);
  });
}

function formatTable(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  return formatColumns(
    ['ID', 'NAME', 'RUNTIME', 'STATUS', 'AGENT', 'PID', 'COMMAND', 'CWD', 'BYTES'],
    sessions.map((s) => [
      s.id,
      s.name ?? '',
      s.runtime ?? '-',
      s.status === 'exited' ? `exited(${s.exit_signal ? `sig ${s.exit_signal}` : s.exit_code})` : s.status,
      s.agent.state + (s.queued_prompts > 0 ? ` +${s.queued_prompts} queued` : ''),
      s.pid === null || s.status !== 'running' ? '' : String(s.pid),
      [s.shell, ...s.args].join(' '),
      s.cwd,
      String(s.last_offset),
    ]),
  );
}

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tower: ${message}\n`);
  const code = error instanceof ClientError && error.code === 'daemon_not_running' ? 3 : 1;
  process.exit(code);
});
