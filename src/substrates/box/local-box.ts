/**
 * A box that is this machine: programs started with child_process, terminals with node-pty. Box-generic
 * code (commands, probe, bootstrap, tmux, Tower's host on a box) is tested on it in milliseconds; the
 * ssh and docker boxes run the same code over their links.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { homedir } from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import * as nodePty from '@lydell/node-pty';
import { TowerError } from '../../protocol/index.js';
import type {
  Box,
  BoxEvents,
  BoxLinkState,
  BoxProcess,
  BoxSpawnOptions,
  BoxTerminalOptions,
  BoxTerminalProcess,
} from './types.js';

export class LocalBox extends EventEmitter<BoxEvents> implements Box {
  private state: BoxLinkState = { state: 'up' };
  /** What it started and is still running: a dropped link ends them, as a cut SSH connection would. */
  private readonly running = new Set<() => void>();

  constructor(readonly name = 'local-box') {
    super();
  }

  link(): BoxLinkState {
    return this.state;
  }

  async whenUp(): Promise<void> {
    if (this.state.state !== 'up') throw new TowerError('substrate_unavailable', `${this.name} is closed`);
  }

  async spawn(argv: string[], options: BoxSpawnOptions = {}): Promise<BoxProcess> {
    await this.whenUp();
    const [program, ...args] = argv;
    if (!program) throw new TowerError('bad_message', 'a program is needed: argv is empty');
    const child = spawn(program, args, {
      cwd: options.cwd ?? homedir(),
      env: { ...process.env, ...options.env },
      stdio: 'pipe',
      detached: true,
    });
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('error', () => resolve({ code: 127, signal: null }));
      child.once('close', (code, signal) => resolve({ code, signal: signal?.replace(/^SIG/, '') ?? null }));
    });
    child.stdin.on('error', () => {});
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {}
    };
    this.running.add(kill);
    void exit.then(() => this.running.delete(kill));
    return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exit, kill };
  }

  async spawnTerminal(argv: string[], options: BoxTerminalOptions): Promise<BoxTerminalProcess> {
    await this.whenUp();
    const [program, ...args] = argv;
    if (!program) throw new TowerError('bad_message', 'a program is needed: argv is empty');
    const pty = nodePty.spawn(program, args, {
      name: options.term ?? 'xterm-256color',
      cols: options.cols,
      rows: options.rows,
      cwd: options.cwd ?? homedir(),
      env: { ...(process.env as Record<string, string>), ...options.env },
      encoding: null,
    });
    const stdout = new PassThrough();
    pty.onData((data) => stdout.write(data));
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      pty.onExit(({ exitCode, signal }) => {
        stdout.end();
        resolve({ code: signal ? null : exitCode, signal: signal ? String(signal) : null });
      });
    });
    const stdin = new Writable({
      write(chunk: Buffer, _encoding, done) {
        pty.write(chunk as unknown as string);
        done();
      },
    });
    return {
      stdin,
      stdout,
      stderr: new PassThrough().end(),
      exit,
      kill: () => pty.kill('SIGKILL'),
      resize: (cols, rows) => pty.resize(cols, rows),
    };
  }

  drop(): void {
    for (const kill of this.running) kill();
  }

  close(): void {
    this.state = { state: 'closed' };
    this.emit('link', this.state);
  }
}
