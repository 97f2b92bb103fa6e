/** The agent commands of `tower`: agents, prompts, cancel, dispatch, broadcast, restart, events, hook. */
import type { Command } from 'commander';
import type { TowerClient } from '../client/client.js';
import { localWebClient } from '../client/local-web.js';
import { followDaemon } from '../client/reconnect.js';
import { API } from '../protocol/api.js';
import type { AttentionEvent, PromptInfo, RuntimeInfo } from '../protocol/index.js';
import { escapeControls, terminalJson } from './escape.js';
import { isRemoteRef, remotePrompts, remoteRestart, resolveRemote } from './fleet.js';
import { runHook } from './hook.js';
import { DAEMON_AWAY, DAEMON_BACK } from './logs.js';
import { isRemote, parseCount, remoteCwd, sessionCwd } from './options.js';
import { formatColumns } from './table.js';
import { localTime } from './time.js';
import { UsageError } from './usage.js';

type WithClient = <T>(work: (client: TowerClient) => Promise<T>) => Promise<T>;
const SESSION_REF = 'a session: its id, its name, or a unique prefix of its id';

export function addAgentCommands(program: Command, withClient: WithClient, stateDir: () => string): void {
  program
    .command('agents')
    .description('list the agent runtimes: installed, version, ready or blocked and why')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const runtimes = await withClient((client) => client.runtimes());
      process.stdout.write(options.json ? `${terminalJson(runtimes, 2)}\n` : formatRuntimes(runtimes));
    });

  program
    .command('prompts')
    .description('list queued and recent prompts (of one session, or all)')
    .argument('[session]', SESSION_REF)
    .option('--json', 'print JSON')
    .action(async (ref: string | undefined, options: { json?: boolean }) => {
      const prompts =
        ref !== undefined && isRemoteRef(ref)
          ? await remotePrompts(stateDir(), ref)
          : await withClient(async (client) =>
              client.prompts(ref === undefined ? undefined : await client.sessionId(ref)),
            );
      process.stdout.write(options.json ? `${terminalJson(prompts, 2)}\n` : formatPrompts(prompts));
    });

  program
    .command('cancel')
    .description('drop a queued prompt')
    .argument('<prompt-id>')
    .action(async (promptId: string) => {
      await withClient((client) => client.cancelPrompt(promptId));
    });

  program
    .command('dispatch')
    .description('send a prompt to an idle session of a runtime, or spawn one; prints the session id')
    .option('--runtime <name>', 'runtime', 'shell')
    .option('--cwd <dir>', 'only sessions in this directory (and spawn there; with --on: a path there)')
    .option('--max <n>', 'spawn only while fewer sessions of the runtime run (default 4)', parseCount)
    .option('--on <substrate>', 'only sessions on this substrate, and spawn there (--cwd is then its path)')
    .option('--fleet', 'when none fits here, an idle agent on a peer, or room there (says where and why)')
    .option('--peer <name>', 'dispatch on this peer (its own choice there)')
    .option('--wait', 'wait until the prompt is delivered (saying so while the agent waits on a dialog)')
    .argument('<text>')
    .action(async (text: string, options: DispatchOptions) => {
      if (options.fleet || options.peer) return dispatchOverFleet(stateDir(), text, options);
      await withClient(async (client) => {
        await client.watchAttention();
        const there = options.cwd && (await isRemote(client, options.on));
        const reply = await client.dispatch({
          runtime: options.runtime,
          text,
          cwd: options.cwd ? (there ? remoteCwd(options.cwd) : sessionCwd(options.cwd)) : undefined,
          maxSessions: options.max,
          substrate: options.on,
        });
        process.stdout.write(`${escapeControls(reply.session_id)}\n`);
        if (options.wait) await settled(client, reply.prompt);
      });
    });

  program
    .command('broadcast')
    .description('send one prompt to several sessions (queued where busy)')
    .argument('<sessions-and-text...>', 'sessions (ids, names, id prefixes, or PEER/ID), then the text')
    .action(async (words: string[]) => {
      const text = words.pop();
      if (!text || words.length === 0)
        throw new UsageError('give one or more sessions, then the text', 'tower broadcast');
      let failed = false;
      await withClient(async (client) => {
        for (const ref of words) {
          let id = ref;
          try {
            let prompt: PromptInfo;
            if (isRemoteRef(ref)) {
              const remote = await resolveRemote(stateDir(), ref);
              id = remote.id;
              prompt = (await remote.web.call(API.prompt, { id, body: { text } })).prompt;
            } else {
              id = await client.sessionId(ref);
              prompt = await client.sendPrompt(id, text);
            }
            process.stdout.write(`${escapeControls(id)}\t${prompt.id}\t${prompt.state}\n`);
          } catch (error) {
            failed = true;
            process.stdout.write(
              `${escapeControls(id)}\t-\tfailed: ${escapeControls((error as Error).message)}\n`,
            );
          }
        }
      });
      if (failed) process.exitCode = 1;
    });

  program
    .command('restart')
    .description("relaunch an agent session in its cwd with its runtime's resume flag; prints the new id")
    .argument('<session>', SESSION_REF)
    .option('--fresh', 'start a new conversation instead of resuming')
    .action(async (ref: string, options: { fresh?: boolean }) => {
      const newId = isRemoteRef(ref)
        ? await remoteRestart(stateDir(), ref, !options.fresh)
        : await withClient(async (client) => client.restart(await client.sessionId(ref), !options.fresh));
      process.stdout.write(`${escapeControls(newId)}\n`);
    });

  program
    .command('events')
    .description(
      'print the recent attention events, then each as it happens: needs input, turn finished, error, exited, lost',
    )
    .option('--json', 'one JSON object per line')
    .action(async (options: { json?: boolean }) => {
      const print = (event: AttentionEvent) =>
        process.stdout.write(options.json ? `${terminalJson(event)}\n` : formatAttention(event));
      // Runs until interrupted; waits for the daemon when it goes away, and replays its recent events.
      await followDaemon(
        { stateDir: stateDir() },
        async (client) => {
          client.on('attention', print);
          // Replayed first: what happened before this connected (the sessions a crash lost, for one).
          await client.watchAttention({ replay: true });
          await new Promise<void>((done) => client.once('disconnect', done));
        },
        { away: () => process.stderr.write(DAEMON_AWAY), back: () => process.stderr.write(DAEMON_BACK) },
      );
    });

  program
    .command('hook')
    .description("report an agent hook to the daemon (run by agents' hooks inside Tower sessions)")
    .argument('<runtime>')
    .argument('[json]', 'the event (codex notify passes it here; Claude Code hooks on stdin)')
    .action(async (runtime: string, json: string | undefined) => runHook(stateDir(), runtime, json));
}

/** `tower send --prompt`: wait for delivery, unless the agent is busy and it was queued. */
export async function sendPrompt(
  client: TowerClient,
  id: string,
  text: string,
  wait: boolean,
): Promise<void> {
  await client.watchAttention();
  const prompt = await client.sendPrompt(id, text);
  if (prompt.state === 'queued' && !wait) {
    const why = prompt.waiting ?? 'the agent is not idle; it goes in when it is';
    process.stdout.write(`queued ${prompt.id}: ${why}\n`);
    return;
  }
  await settled(client, prompt);
}

/** Wait until a prompt is delivered (or fails), saying on stderr whenever the agent waits on a dialog. */
async function settled(client: TowerClient, prompt: PromptInfo): Promise<void> {
  const id = prompt.session_id;
  let shown = '';
  const dialog = (excerpt: string) => {
    if (excerpt === shown) return;
    shown = excerpt;
    process.stderr.write(
      `tower: session ${escapeControls(id)} waits on a dialog: ${escapeControls(excerpt)} ` +
        `(answer it: tower attach ${escapeControls(id)})\n`,
    );
  };
  const final = await new Promise<PromptInfo>((done, fail) => {
    client.on('prompt', (event) => {
      if (event.id === prompt.id && event.state !== 'queued' && event.state !== 'delivering') done(event);
    });
    client.on('attention', (event) => {
      if (event.session_id === id && event.kind === 'needs_input') dialog(event.excerpt);
    });
    client.on('disconnect', () => fail(new Error('lost connection to the Tower daemon')));
    // A dialog already open sends no new event.
    client
      .resolveSession(id)
      .then((session) => session.agent.state === 'needs_input' && dialog(session.agent.reason))
      .catch(() => {});
  });
  if (final.state !== 'delivered') throw new Error(`prompt ${final.id} ${final.state}: ${final.error ?? ''}`);
}

function formatRuntimes(runtimes: RuntimeInfo[]): string {
  return formatColumns(
    ['RUNTIME', 'STATE', 'VERSION', 'STATUS FROM', 'DETAIL'],
    runtimes.map((runtime) => [
      runtime.name + (runtime.custom ? ' (custom)' : ''),
      runtime.ready ? 'ready' : runtime.installed ? 'blocked' : 'not installed',
      runtime.version ?? '',
      runtime.status_channel,
      runtime.ready ? (runtime.path ?? '') : `${runtime.missing.join('; ')}; fix: ${runtime.fix}`,
    ]),
  );
}

function formatPrompts(prompts: PromptInfo[]): string {
  if (prompts.length === 0) return 'no prompts\n';
  return formatColumns(
    ['PROMPT', 'SESSION', 'STATE', 'QUEUED', 'TEXT'],
    prompts.map((prompt) => [
      prompt.id,
      prompt.session_id,
      prompt.state + (prompt.error || prompt.waiting ? ` (${prompt.error ?? prompt.waiting})` : ''),
      localTime(prompt.queued_at),
      prompt.text.replace(/\s+/g, ' ').slice(0, 60),
    ]),
  );
}

function formatAttention(event: AttentionEvent): string {
  const fields = [
    localTime(event.at),
    event.kind.padEnd(13),
    event.session_id,
    event.name ?? '-',
    event.runtime ?? '-',
    event.excerpt,
  ];
  return `${fields.map((field) => escapeControls(field)).join('  ')}\n`;
}

interface DispatchOptions {
  runtime: string;
  cwd?: string;
  max?: number;
  on?: string;
  fleet?: boolean;
  peer?: string;
  wait?: boolean;
}

/** Through `tower serve`, which knows the peers: the session id on stdout, where and why on stderr. */
async function dispatchOverFleet(stateDir: string, text: string, options: DispatchOptions): Promise<void> {
  const web = localWebClient(stateDir);
  const reply = await web.call(API.dispatch, {
    body: {
      runtime: options.runtime,
      text,
      cwd: options.cwd,
      max_sessions: options.max,
      substrate: options.on,
      fleet: options.fleet,
      peer: options.peer,
    },
  });
  process.stdout.write(`${escapeControls(reply.session_id)}\n`);
  const where = reply.peer ? `on ${reply.peer}` : 'here';
  process.stderr.write(`tower: dispatched ${where}: ${escapeControls(reply.reason ?? '')}\n`);
  if (!options.wait) return;
  for (let prompt = reply.prompt; ; ) {
    if (prompt.state === 'delivered') return;
    if (prompt.state === 'failed' || prompt.state === 'cancelled') {
      throw new Error(`prompt ${prompt.id} ${prompt.state}${prompt.error ? `: ${prompt.error}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
    const { prompts } = await web.call(API.sessionPrompts, { id: reply.session_id });
    prompt = prompts.find((candidate) => candidate.id === prompt.id) ?? prompt;
  }
}
