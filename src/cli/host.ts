/**
 * `tower host`: the session host, which owns every PTY and journal. `tower serve` starts it in the
 * background when none runs; `tower host run` runs it in the foreground; stop and status ask it.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { TowerClient } from '../client/client.js';
import { DEFAULT_JOURNAL_BUDGET_BYTES, DEFAULT_MAX_SESSIONS } from '../sessions/defaults.js';
import { PROCESS_LIMITS, parseProcessLimit, prlimitPath } from '../substrates/process-limits.js';
import { parseCount, parsePositive } from './options.js';

const MIB = 1024 * 1024;

export interface HostOptions {
  ringMib: number;
  logCapMib: number;
  scrollback: number;
  journalBudgetMib: number;
  maxSessions: number;
  limit: Record<string, string>;
}

/** The options that shape sessions: the host's own, passed on by `tower serve` when it starts one. */
export function withHostOptions(command: Command): Command {
  return command
    .option('--ring-mib <n>', 'output kept in memory per session, MiB', parsePositive, 8)
    .option(
      '--log-cap-mib <n>',
      'output kept on disk per session, MiB (oldest dropped first)',
      parsePositive,
      256,
    )
    .option(
      '--journal-budget-mib <n>',
      'output kept on disk by all sessions together, MiB (oldest of ended sessions dropped first)',
      parsePositive,
      DEFAULT_JOURNAL_BUDGET_BYTES / MIB,
    )
    .option('--scrollback <lines>', 'scrollback lines in screen snapshots', parseCount, 1000)
    .option('--max-sessions <n>', 'running sessions at most', parsePositive, DEFAULT_MAX_SESSIONS)
    .option(
      '--limit <name=value>',
      `a resource limit for every session's process, via prlimit (repeatable; ${PROCESS_LIMITS.join(', ')})`,
      collectLimit,
      {} as Record<string, string>,
    );
}

export function hostArgs(options: HostOptions): string[] {
  const args = [
    ['--ring-mib', options.ringMib],
    ['--log-cap-mib', options.logCapMib],
    ['--journal-budget-mib', options.journalBudgetMib],
    ['--scrollback', options.scrollback],
    ['--max-sessions', options.maxSessions],
  ].flatMap(([flag, value]) => [String(flag), String(value)]);
  for (const [name, value] of Object.entries(options.limit)) args.push('--limit', `${name}=${value}`);
  return args;
}

function collectLimit(value: string, previous: Record<string, string>): Record<string, string> {
  let limit: [string, string];
  try {
    limit = parseProcessLimit(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return { ...previous, [limit[0]]: limit[1] };
}

export function hostCommand(stateDir: () => string): Command {
  const host = new Command('host').description('the session host, which keeps every session running');
  host.addCommand(
    withHostOptions(new Command('run').description('run the session host in the foreground'))
      .addOption(new Option('--background', 'started by tower serve: print only what is news').hideHelp())
      .action((options: HostOptions & { background?: boolean }) => runHost(stateDir(), options)),
  );
  host.addCommand(
    new Command('stop').description('end every session and stop the session host').action(async () => {
      const client = await TowerClient.connect({ stateDir: stateDir() });
      await client.request({ type: 'stop_host' });
      client.end();
      process.stdout.write('session host stopped\n');
    }),
  );
  host.addCommand(
    new Command('status')
      .description('which session host runs, and whether tower serve is attached')
      .action(async () => {
        const client = await TowerClient.connect({ stateDir: stateDir() });
        const info = await client.request({ type: 'host_status' });
        client.end();
        if (info.type !== 'host_info') return;
        process.stdout.write(
          `session host pid ${info.pid}, Tower ${info.build}, protocol ${info.protocol}, since ${info.started_at}\n` +
            `${info.sessions} running sessions; control plane ${info.control_plane ? 'attached' : 'not attached'}\n`,
        );
      }),
  );
  host.addCommand(
    new Command('bridge')
      .description(
        "pass a Tower's link to this machine's session host through stdin/stdout (run by Tower on a box)",
      )
      .action(async () => {
        const { runBridge } = await import('./host-bridge.js');
        await runBridge(stateDir());
      }),
  );
  return host;
}

async function runHost(dir: string, options: HostOptions & { background?: boolean }): Promise<void> {
  if (Object.keys(options.limit).length > 0 && !prlimitPath()) {
    throw new Error('--limit needs prlimit(1) (util-linux), which is not installed');
  }
  // Started in the background, the host prints to host.log in the state dir: a full disk or a closed
  // terminal must cost a log line, never the host and its sessions.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const { startHost } = await import('../server/host.js');
  let host: Awaited<ReturnType<typeof startHost>> | null = null;
  const stop = () => {
    (host?.close() ?? Promise.resolve()).then(() => process.exit(0));
  };
  host = await startHost({
    stateDir: dir,
    ringBytes: options.ringMib * MIB,
    diskCapBytes: options.logCapMib * MIB,
    journalBudgetBytes: options.journalBudgetMib * MIB,
    maxSessions: options.maxSessions,
    processLimits: options.limit,
    scrollback: options.scrollback,
    onStopRequest: stop,
  });
  if (!options.background) {
    process.stdout.write(`Tower session host serving ${host.socketPath} (pid ${process.pid})\n`);
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Started in the background, the host must outlive the terminal it came from.
  process.on('SIGHUP', () => {});
}
