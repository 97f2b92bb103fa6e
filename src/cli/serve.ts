/**
 * `tower serve`: the control plane (agents) attached to the session host, started when none runs, and
 * the web workspace on HTTP(S) in front of them.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { LostSession } from '../agents/lost-sessions.js';
import type { ControlPlane } from '../control/control-plane.js';
import { peerName } from '../protocol/federation.js';
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, isLoopbackHost } from '../server/http/listen-address.js';
import type { HttpServer } from '../server/http/server.js';
import { DEFAULT_MAX_STREAMS } from '../server/http/streams.js';
import { AuthThrottle } from '../state/auth-throttle.js';
import { loadIdentity } from '../state/identity.js';
import { tokenPath } from '../state/paths.js';
import { removeServeInfo, writeServeInfo } from '../state/serve-info.js';
import { ensureToken } from '../state/token.js';
import { prlimitPath } from '../substrates/process-limits.js';
import { type HostOptions, hostArgs, withHostOptions } from './host.js';
import { collectOrigin, parsePort, parsePositive } from './options.js';
import { formatColumns } from './table.js';

interface ServeOptions extends HostOptions {
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  allowOrigin: string[];
  http: boolean;
  maxStreams: number;
  resumeLost?: boolean;
  dispatchLimit: number;
  name?: string;
  /** undefined: on when --host is beyond loopback. */
  mdns?: boolean;
  advertiseUrl?: string;
  tailscale: boolean;
  tailscalePort: number[];
}

export function serveCommand(stateDir: () => string): Command {
  return withHostOptions(
    new Command('serve').description(
      'run the control plane in the foreground, with the web workspace on HTTP; starts the session host when none runs',
    ),
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
    .option('--name <name>', "this Tower's name among peers (kept; default: the host name)", parseTowerName)
    .option(
      '--mdns',
      'advertise this Tower and look for others on the LAN (default: when --host is not loopback)',
    )
    .option('--no-mdns', 'neither advertise nor look on the LAN')
    .option('--advertise-url <url>', 'the URL mDNS advertises (default: the web workspace URL)')
    .option('--no-tailscale', 'do not look for Towers on the tailnet (by default when `tailscale` exists)')
    .option(
      '--tailscale-port <port>',
      "the port tailnet machines are asked on (repeatable; default this serve's port and 7613)",
      (value: string, previous: number[]) => [...previous, parsePort(value)],
      [] as number[],
    )
    .action((options: ServeOptions) => serve(stateDir(), options));
}

function parseTowerName(value: string): string {
  const parsed = peerName.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

async function serve(dir: string, options: ServeOptions): Promise<void> {
  if (Object.keys(options.limit).length > 0 && !prlimitPath()) {
    throw new Error('--limit needs prlimit(1) (util-linux), which is not installed');
  }
  // Loaded here, not at the top: every other command starts without the control plane and the web server.
  const { startControlPlane } = await import('../control/control-plane.js');
  const { followLog } = await import('../control/host-process.js');
  const { startHttp } = await import('../server/http/server.js');
  const warn = (message: string) => process.stderr.write(`tower: ${message}\n`);
  // Made (or renamed) before anything serves, so peers and discovery see one name from the start.
  loadIdentity(dir, options.name);
  const start = () =>
    startControlPlane({
      stateDir: dir,
      hostArgs: hostArgs(options),
      resumeLost: options.resumeLost,
      dispatchLimit: options.dispatchLimit,
      warn,
    });
  let control = await start();
  // What the host prints (warnings about damaged state, say, when it starts now) is shown here too.
  const showHostLog = (from: number) => followLog(dir, from, (text) => process.stderr.write(text));
  let stopFollowing = showHostLog(control.host.logFrom);
  let http: HttpServer | null = null;
  if (options.http) {
    try {
      http = await startHttp({
        stateDir: dir,
        socketPath: control.socketPath,
        host: options.host,
        port: options.port,
        tlsCert: options.tlsCert,
        tlsKey: options.tlsKey,
        allowOrigins: options.allowOrigin,
        authThrottle: new AuthThrottle(),
        maxStreams: options.maxStreams,
        dispatchLimit: options.dispatchLimit,
        discovery: {
          mdns: options.mdns,
          advertiseUrl: options.advertiseUrl,
          tailscale: options.tailscale,
          tailscalePorts: options.tailscalePort.length > 0 ? options.tailscalePort : undefined,
        },
        warn,
      });
    } catch (error) {
      // A host started just now for this serve holds nothing yet: it goes too.
      await control.close({ stopHost: control.host.started && control.adopted === 0 });
      throw new Error(`cannot start the web workspace: ${(error as Error).message}`);
    }
  }
  process.stdout.write(hostReport(control));
  if (control.lost.length > 0) process.stdout.write(lostReport(control.lost));
  process.stdout.write(`Tower daemon listening on ${control.socketPath}\ntoken file: ${tokenPath(dir)}\n`);
  if (http) {
    writeServeInfo(dir, { url: http.url, pid: process.pid });
    process.stdout.write(`Tower web workspace: ${http.url}/#token=${ensureToken(tokenPath(dir))}\n`);
    if (!isLoopbackHost(options.host)) process.stderr.write(exposureWarning(options));
  }
  let stopping = false;
  // The host stopped or died: its sessions are lost (kept readable); a new host starts and says which.
  // If only the connection went (the host dropped it), the same host is attached again.
  const replaceHost = () => {
    const pid = control.host.pid;
    warn(
      isRunning(pid)
        ? `lost the connection to the session host (pid ${pid}, still running); attaching again`
        : 'the session host stopped; starting a new one',
    );
    stopFollowing();
    const retry = (delay: number) =>
      setTimeout(() => {
        if (stopping) return;
        start().then(
          (fresh) => {
            control = fresh;
            stopFollowing = showHostLog(fresh.host.logFrom);
            process.stdout.write(hostReport(fresh));
            if (fresh.lost.length > 0) process.stdout.write(lostReport(fresh.lost));
            fresh.onHostLost(replaceHost);
          },
          (error: Error) => {
            warn(`cannot start the session host: ${error.message}; trying again`);
            retry(Math.min(delay * 2, 5000));
          },
        );
      }, delay);
    retry(100);
  };
  control.onHostLost(replaceHost);
  const stop = () => {
    stopping = true;
    (http?.close() ?? Promise.resolve())
      .catch(() => {})
      .then(() => control.close())
      .then(() => {
        removeServeInfo(dir);
        process.stdout.write(
          `Sessions keep running in the session host (pid ${control.host.pid}); tower host stop ends them.\n`,
        );
        process.exit(0);
      });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function hostReport(control: ControlPlane): string {
  const { host } = control;
  const how = host.started ? 'started' : 'running';
  const sessions = `${control.adopted} running ${control.adopted === 1 ? 'session' : 'sessions'} adopted`;
  return `Session host ${how} (pid ${host.pid}, Tower ${host.build}); ${sessions}\n`;
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

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
