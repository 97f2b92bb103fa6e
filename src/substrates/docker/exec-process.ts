/**
 * A program in the container as a BoxProcess, over one `docker exec` with its streams hijacked.
 *
 * Docker has no way to signal an exec, and the pid its inspect gives is the engine host's, not the
 * container's. So every program is started by a small shell that writes its own pid to a file first;
 * runc makes each exec a session and process group of its own, and `kill` is a second exec that
 * kills that whole group. Without a terminal the engine multiplexes stdout and stderr on one stream
 * (8-byte frame headers); they are split here with backpressure: a reader that stops reading stops
 * the socket, and so the engine.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { PassThrough, type Readable, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { TowerError } from '../../protocol/index.js';
import type { BoxTerminalProcess } from '../box/types.js';

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** $1: pid file; $2: directory ('' = home); $3: `stty` size or ''; then the program. */
const WRAPPER = [
  'p=$1 d=$2 size=$3; shift 3',
  '[ -n "$d" ] || d=$HOME; [ -n "$d" ] || d=/',
  'cd "$d" || exit 126',
  '[ -z "$size" ] || stty $size 2>/dev/null',
  'echo $$ >"$p" 2>/dev/null',
  '"$@"; s=$?; rm -f "$p"; exit $s',
].join('\n');
const KILLER = [
  'p=$1 i=0',
  'while [ ! -s "$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
  'pid=$(cat "$p" 2>/dev/null) || exit 0',
  'kill -9 -"$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null; rm -f "$p"',
].join('\n');

export interface ExecSpec {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  terminal?: { cols: number; rows: number; term: string };
}

/** The hijacked sockets of the programs a box runs, so that a dropped link ends their streams. */
export type SocketSet = Set<Socket>;

export async function startExec(
  container: Docker.Container,
  spec: ExecSpec,
  sockets: SocketSet,
): Promise<BoxTerminalProcess> {
  if (spec.argv.length === 0) throw new TowerError('bad_message', 'a program is needed: argv is empty');
  const env = Object.entries(spec.env ?? {}).map(([key, value]) => {
    if (!VARIABLE.test(key))
      throw new TowerError('bad_message', `not a variable name: ${JSON.stringify(key)}`);
    return `${key}=${value}`;
  });
  const { terminal } = spec;
  if (terminal) env.push(`TERM=${terminal.term}`);
  const pidFile = `/tmp/.tower-exec-${randomBytes(8).toString('hex')}`;
  const size = terminal ? `cols ${terminal.cols} rows ${terminal.rows}` : '';
  const exec = await container.exec({
    Cmd: ['/bin/sh', '-c', WRAPPER, 'tower-exec', pidFile, spec.cwd ?? '', size, ...spec.argv],
    Env: env,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: Boolean(terminal),
  });
  const socket = (await exec.start({ hijack: true, stdin: true, Tty: Boolean(terminal) })) as Socket;
  sockets.add(socket);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const sink = terminal ? stdout : demultiplexer(stdout, stderr);
  if (terminal) stderr.end();
  socket.pipe(sink);
  socket.on('error', () => {});
  socket.once('close', () => {
    sockets.delete(socket);
    // Cut off (a dropped link): what was received is delivered, the rest is gone.
    if (!socket.readableEnded) sink.end();
  });
  let killed = false;
  const exit = Promise.all([drained(stdout), terminal ? null : drained(stderr)]).then(async () => {
    // A stream cut off by a dropped link: the program may well go on, its exit is not known here.
    const code = socket.readableEnded ? await exitCode(exec) : null;
    if (killed && (code === 137 || code === null)) return { code: null, signal: 'KILL' };
    return { code, signal: null };
  });
  return {
    stdin: socketWriter(socket),
    stdout,
    stderr,
    exit,
    kill: () => {
      if (killed) return;
      killed = true;
      void killExec(container, exec, pidFile).catch(() => {});
    },
    resize: (cols, rows) => {
      void exec.resize({ w: cols, h: rows }).catch(() => {});
    },
  };
}

function drained(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded) return resolve();
    stream.once('end', resolve).once('close', resolve);
  });
}

/** Once its stream has ended, the exit code (the engine may record it a moment later); null if unknown. */
async function exitCode(exec: Docker.Exec): Promise<number | null> {
  const deadline = Date.now() + 3000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      const info = await exec.inspect({ abortSignal: AbortSignal.timeout(2000) });
      if (!info.Running) return info.ExitCode;
    } catch {
      return null;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 * 2 ** attempt)));
  }
  return null;
}

async function killExec(container: Docker.Container, target: Docker.Exec, pidFile: string): Promise<void> {
  const info = await target.inspect();
  if (!info.Running) return;
  const killer = await container.exec({
    Cmd: ['/bin/sh', '-c', KILLER, 'tower-kill', pidFile],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await killer.start({});
  stream.resume();
  await new Promise((resolve) => stream.once('end', resolve).once('close', resolve));
}

/** Writes to the exec's stdin; ending it half-closes the socket, which the engine passes on as EOF. */
function socketWriter(socket: Socket): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (socket.destroyed) return done();
      socket.write(chunk, () => done());
    },
    final(done) {
      if (!socket.destroyed) socket.end();
      done();
    },
  });
}

/** Splits the engine's frames (type byte, 3 zero bytes, 32-bit length, payload) into two streams. */
function demultiplexer(stdout: PassThrough, stderr: PassThrough): Writable {
  let pending: Buffer = Buffer.alloc(0);
  let target: PassThrough | null = null;
  let remaining = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      let buffer = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      const waits: Readable[] = [];
      while (buffer.length > 0) {
        if (remaining === 0) {
          if (buffer.length < 8) {
            pending = buffer;
            break;
          }
          target = buffer[0] === 2 ? stderr : stdout;
          remaining = buffer.readUInt32BE(4);
          buffer = buffer.subarray(8);
          continue;
        }
        const piece = buffer.subarray(0, remaining);
        remaining -= piece.length;
        buffer = buffer.subarray(piece.length);
        if (!target!.write(piece) && !waits.includes(target!)) waits.push(target!);
      }
      if (waits.length === 0) return done();
      let left = waits.length;
      for (const stream of waits) stream.once('drain', () => --left === 0 && done());
    },
    final(done) {
      stdout.end();
      stderr.end();
      done();
    },
  });
}
