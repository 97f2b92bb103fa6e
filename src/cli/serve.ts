/** `tower serve`: the daemon on its Unix socket, and the web workspace on HTTP(S) in front of it. */
import { Command, InvalidArgumentError } from 'commander';
import type { LostSession } from '../agents/supervisor.js';
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, isLoopbackHost } from '../server/http/listen-address.js';
import type { HttpServer } from '../server/http/server.js';
import { DEFAULT_MAX_STREAMS } from '../server/http/streams.js';
import { DEFAULT_JOURNAL_BUDGET_BYTES, DEFAULT_MAX_SESSIONS } from '../sessions/defaults.js';
import { PROCESS_LIMITS, parseProcessLimit, prlimitPath } from '../sessions/process-limits.js';
import { AuthThrottle } from '../state/auth-throttle.js';
import { tokenPath } from '../state/paths.js';
import { ensureToken } from '../state/token.js';
import { collectOrigin, parseCount, parsePort, parsePositive } from './options.js';
import { formatColumns } from './table.js';

const MIB = 1024 * 1024;

interface ServeOptions {
  ringMib: number;
  logCapMib: number;
  scrollback: number;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  allowOrigin: string[];
  http: boolean;
  maxStreams: number;
  resumeLost?: boolean;
  dispatchLimit: number;
  journalBudgetMib: number;
  maxSessions: number;
  limit: Record<string, string>;
}

export function serveCommand(stateDir: () => string): Command {
  return new Command('serve')
    .description('run the daemon in the foreground, with the web workspace on HTTP')
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
    )
    .option('--host <host>', 'address the web workspace listens on', DEFAULT_HTTP_HOST)
    .option('--port <port>', 'web workspace port (0: any free port)', parsePort, DEFAULT_HTTP_PORT)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM), with --tls-key')
    .option('--tls-key <file>', 'the private key (PEM) for --tls-cert')
    .option(
      '--allow-origin <origin>',
      'also accept browser requests from this exact origin (repeatable)',
      collectOrigin,
      [] as string[],
    )
    .option('--no-http', 'run without the web workspace (Unix socket only)')
    .option(
      '--max-streams <n>',
      'open SSE and WebSocket streams at most; more get 503',
      parsePositive,
      DEFAULT_MAX_STREAMS,
    )
    .option('--resume-lost', "relaunch agent sessions lost in a crash, with their runtime's resume flag")
    .option('--dispatch-limit <n>', 'sessions of one runtime that dispatch may start', parsePositive, 4)
    .action((options: ServeOptions) => serve(stateDir(), options));
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

async function serve(dir: string, options: ServeOptions): Promise<void> {
  if (Object.keys(options.limit).length > 0 && !prlimitPath()) {
    throw new Error('--limit needs prlimit(1) (util-linux), which is not installed');
  }
  // Loaded here, not at the top: every other command starts without the daemon and the web server.
  const { startDaemon } = await import('../server/daemon.js');
  const { startHttp } = await import('../server/http/server.js');
  // One throttle for the socket and HTTP: a guesser's failures on either count toward the same limits.
  const authThrottle = new AuthThrottle();
  const daemon = await startDaemon({
    authThrottle,
    stateDir: dir,
    ringBytes: options.ringMib * MIB,
    diskCapBytes: options.logCapMib * MIB,
    journalBudgetBytes: options.journalBudgetMib * MIB,
    maxSessions: options.maxSessions,
    processLimits: options.limit,
    scrollback: options.scrollback,
    resumeLost: options.resumeLost,
    dispatchLimit: options.dispatchLimit,
  });
  let http: HttpServer | null = null;
  if (options.http) {
    try {
      http = await startHttp({
        stateDir: dir,
        socketPath: daemon.socketPath,
        host: options.host,
        port: options.port,
        tlsCert: options.tlsCert,
        tlsKey: options.tlsKey,
        allowOrigins: options.allowOrigin,
        authThrottle,
        maxStreams: options.maxStreams,
      });
    } catch (error) {
      await daemon.close();
      throw new Error(`cannot start the web workspace: ${(error as Error).message}`);
    }
  }
  process.stdout.write(`Tower daemon listening on ${daemon.socketPath}\ntoken file: ${tokenPath(dir)}\n`);
  if (http) {
    process.stdout.write(`Tower web workspace: ${http.url}/#token=${ensureToken(tokenPath(dir))}\n`);
    if (!isLoopbackHost(options.host)) process.stderr.write(exposureWarning(options));
  }
  if (daemon.lost.length > 0) process.stdout.write(lostReport(daemon.lost));
  const stop = () => {
    (http?.close() ?? Promise.resolve())
      .catch(() => {})
      .then(() => daemon.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Sessions the crash took, each once: the ids to look at or restart, and what --resume-lost relaunched. */
function lostReport(lost: LostSession[]): string {
  const lostNow = lost.filter((session) => session.lostNow).length;
  const relaunched = lost.filter((session) => session.relaunchedAs !== null).length;
  const head =
    lostNow === 0
      ? `${relaunched} ${relaunched === 1 ? 'session' : 'sessions'} lost in an earlier run relaunched (--resume-lost):`
      : `${lostNow} ${lostNow === 1 ? 'session was' : 'sessions were'} lost when the daemon stopped` +
        (relaunched > 0
          ? `; ${relaunched} relaunched (--resume-lost):`
          : ' (their output is kept; `tower restart ID` relaunches one):');
  const table = formatColumns(
    ['SESSION', 'NAME', 'PROGRAM', 'CWD', ''],
    lost.map((session) => [
      session.id,
      session.name ?? '-',
      session.runtime ?? session.command,
      session.cwd,
      session.relaunchedAs ? `relaunched as ${session.relaunchedAs}` : '',
    ]),
  );
  return `${head}\n${table.trimEnd().replace(/^/gm, '  ')}\n`;
}

function exposureWarning(options: ServeOptions): string {
  const clearText = options.tlsCert
    ? ''
    : ' Without --tls-cert/--tls-key, the token and the session cookie cross the network in clear text.';
  return (
    `tower: warning: the web workspace listens on ${options.host}, reachable from other machines;` +
    ` anyone with the token controls your sessions.${clearText}\n`
  );
}
