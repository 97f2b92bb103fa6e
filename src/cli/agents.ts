/** The agent commands of `tower`: agents, prompts, cancel, dispatch, broadcast, restart, events, hook. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { TowerClient } from '../client/client.js';
import type { PromptInfo, RuntimeInfo } from '../protocol/index.js';
import { runHook } from './hook.js';
import { parseCount } from './options.js';
import { formatColumns } from './table.js';

type WithClient = <T>(work: (client: TowerClient) => Promise<T>) => Promise<T>;

export function addAgentCommands(program: Command, withClient: WithClient, stateDir: () => string): void {
  program
    .command('agents')
    .description('list the agent runtimes: installed, version, ready or blocked and why')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const runtimes = await withClient((client) => client.runtimes());
      process.stdout.write(
        options.json ? `${JSON.stringify(runtimes, null, 2)}\n` : formatRuntimes(runtimes),
      );
    });

  program
    .command('prompts')
    .description('list queued and recent prompts (of one session, or all)')
    .argument('[id]')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, options: { json?: boolean }) => {
      const prompts = await withClient((client) => client.prompts(id));
      process.stdout.write(options.json ? `${JSON.stringify(prompts, null, 2)}\n` : formatPrompts(prompts));
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
    .option('--cwd <dir>', 'only sessions in this directory (and spawn there)')
    .option('--max <n>', 'spawn only while fewer sessions of the runtime run (default 4)', parseCount)
    .option('--wait', 'wait until the prompt is delivered')
    .argument('<text>')
    .action(
      async (text: string, options: { runtime: string; cwd?: string; max?: number; wait?: boolean }) => {
        await withClient(async (client) => {
          await client.watchAttention();
          const reply = await client.dispatch({
            runtime: options.runtime,
            text,
            cwd: options.cwd ? resolve(options.cwd) : undefined,
            maxSessions: options.max,
          });
          process.stdout.write(`${reply.session_id}\n`);
          if (options.wait) await settled(client, reply.prompt);
        });
      },
    );

  program
    .command('broadcast')
    .description('send one prompt to several sessions (queued where busy)')
    .argument('<id-and-text...>', 'session ids, then the text')
    .action(async (words: string[]) => {
      const text = words.pop();
      if (!text || words.length === 0) throw new Error('usage: tower broadcast ID... TEXT');
      let failed = false;
      await withClient(async (client) => {
        for (const id of words) {
          try {
            const prompt = await client.sendPrompt(id, text);
            process.stdout.write(`${id}\t${prompt.id}\t${prompt.state}\n`);
          } catch (error) {
            failed = true;
            process.stdout.write(`${id}\t-\tfailed: ${(error as Error).message}\n`);
          }
        }
      });
      if (failed) process.exitCode = 1;
    });

  program
    .command('restart')
    .description("relaunch an agent session in its cwd with its runtime's resume flag; prints the new id")
    .argument('<id>')
    .option('--fresh', 'start a new conversation instead of resuming')
    .action(async (id: string, options: { fresh?: boolean }) => {
      const newId = await withClient((client) => client.restart(id, !options.fresh));
      process.stdout.write(`${newId}\n`);
    });

  program
    .command('events')
    .description(
      'print the recent attention events, then each as it happens: needs input, turn finished, error, exited, lost',
    )
    .option('--json', 'one JSON object per line')
    .action(async (options: { json?: boolean }) => {
      await withClient(async (client) => {
        client.on('attention', (event) => {
          process.stdout.write(
            options.json
              ? `${JSON.stringify(event)}\n`
              : `${event.at}  ${event.kind.padEnd(13)}  ${event.session_id}  ${event.runtime ?? '-'}  ${event.excerpt}\n`,
          );
        });
        // Replayed first: what happened before this started (the sessions a crash lost, for one).
        await client.watchAttention({ replay: true });
        await new Promise<void>((done) => client.on('disconnect', done));
      });
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

async function settled(client: TowerClient, prompt: PromptInfo): Promise<void> {
  const final = await new Promise<PromptInfo>((done, fail) => {
    client.on('prompt', (event) => {
      if (event.id === prompt.id && event.state !== 'queued' && event.state !== 'delivering') done(event);
    });
    client.on('disconnect', () => fail(new Error('lost connection to the Tower daemon')));
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
      prompt.queued_at,
      prompt.text.replace(/\s+/g, ' ').slice(0, 60),
    ]),
  );
}
