/**
 * A process on the box as one exec channel. SSH's exec carries a command line, not argv, and OpenSSH
 * ignores signal requests for a command without a terminal, so each command is started as
 *   exec /bin/sh -c 'printf "\036tower-pgid:%d\n" $$ && cd DIR && exec env K=V argv…'
 * sshd makes the process it starts a session (and process group) leader, and `exec` keeps its pid: the
 * first line of output names the group, which `kill()` ends with a second exec (`kill -KILL -- -PGID`),
 * whatever the program started in it. That line, and anything a login script printed before it, is
 * taken out of the output.
 */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { commandLine, quoteWord } from '../box/quote.js';
import type { BoxProcess, BoxSpawnOptions } from '../box/types.js';

const MARK = '\x1etower-pgid:';
const MARK_LINE = /\x1etower-pgid:(\d+)\r?\n/;
/** Past this much output before the mark, it is not coming (no /bin/sh): pass everything on. */
const MAX_BEFORE_MARK = 64 * 1024;
/** A killed process whose channel stays open this long is cut off from our side. */
const KILL_GRACE_MS = 5000;

export function wrappedCommand(argv: readonly string[], options: BoxSpawnOptions = {}): string {
  const inner = `printf '${MARK.replace('\x1e', '\\036')}%d\\n' $$ && ${commandLine(argv, options.cwd, options.env)}`;
  return `exec /bin/sh -c ${quoteWord(inner)}`;
}

/** What the process needs of its box: a second channel to end a process group. */
export interface GroupKiller {
  killGroup(pgid: number): void;
}

/** On a terminal, everything comes on stdout: stderr is an empty stream, and not waited for. */
export function channelProcess(channel: ClientChannel, box: GroupKiller, terminal = false): BoxProcess {
  let pgid: number | null = null;
  let killWanted = false;
  let closed = false;
  let status: { code: number | null; signal: string | null } | null = null;
  const stdout = new MarkFilter((found) => {
    pgid = found;
    if (killWanted && !closed) box.killGroup(found);
  });
  channel.on('error', () => {});
  channel.stderr.on('error', () => {});
  stdout.on('error', () => {});
  channel.pipe(stdout);
  channel.on('exit', (code: number | null, signal?: string) => {
    status = { code: signal ? null : code, signal: signal ? signal.replace(/^SIG/, '') : null };
  });
  const channelClosed = new Promise<void>((resolve) =>
    channel.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  const ended = (stream: NodeJS.ReadableStream) =>
    new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
  const stderr = terminal ? new PassThrough().end() : channel.stderr;
  if (terminal) channel.stderr.resume();
  const exit = Promise.all([channelClosed, ended(stdout), ...(terminal ? [] : [ended(channel.stderr)])]).then(
    () => status ?? { code: null, signal: null },
  );
  return {
    stdin: channel,
    stdout,
    stderr,
    exit,
    kill() {
      if (closed || killWanted) return;
      killWanted = true;
      if (pgid !== null) box.killGroup(pgid);
      const cutOff = setTimeout(() => {
        if (!closed) channel.destroy();
      }, KILL_GRACE_MS);
      cutOff.unref();
      void channelClosed.then(() => clearTimeout(cutOff));
    },
  };
}

/** stdout without the pgid line (and what came before it), reporting the pgid. */
class MarkFilter extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private found = false;

  constructor(private readonly onGroup: (pgid: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.found) {
      done(null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const text = Buffer.concat(this.held);
    const match = MARK_LINE.exec(text.toString('latin1'));
    if (match) {
      this.found = true;
      this.held = [];
      this.onGroup(Number(match[1]));
      const rest = text.subarray(match.index + match[0].length);
      done(null, rest.length > 0 ? rest : undefined);
      return;
    }
    if (this.heldBytes > MAX_BEFORE_MARK) this.release();
    done();
  }

  override _flush(done: TransformCallback): void {
    if (!this.found) this.release();
    done();
  }

  private release(): void {
    this.found = true;
    for (const chunk of this.held) this.push(chunk);
    this.held = [];
  }
}
