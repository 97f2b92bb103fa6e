/**
 * A raw NDJSON client for the daemon's Unix socket: no req_id matching, no schema, no
 * convenience. It records every line the daemon sends so tests can check exactly what
 * went over the wire, and waits for messages by predicate with a timeout.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

/** One parsed daemon message (a JSON object with a string `type`). */
export type WireMessage = { type: string } & Record<string, unknown>;

export type Predicate = (message: WireMessage) => boolean;

export interface WaitOptions {
  /** Only messages received at or after this index count (see `mark()`); default: all. */
  since?: number;
  timeoutMs?: number;
  /** Shown in the timeout error. */
  what?: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/** `<stateDir>/token`, as an agor-pty client would read it. */
export function readTokenFile(stateDir: string): string {
  return readFileSync(join(stateDir, 'token'), 'utf8').trim();
}

export const isType =
  (type: string, sessionId?: string): Predicate =>
  (message) =>
    message.type === type && (sessionId === undefined || message.session_id === sessionId);

export const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

export class RawClient {
  /** Every well-formed message received, in order. */
  readonly messages: WireMessage[] = [];
  /** Lines that were not JSON objects with a string `type`. */
  readonly badLines: string[] = [];
  private parts: Buffer[] = [];
  private readonly listeners = new Set<() => void>();
  private closedFlag = false;
  /** Set once the daemon answered auth_result ok:true. */
  authenticated = false;
  /** Replies to the pings sent by `sync()`. */
  readonly syncReplies = new WeakSet<WireMessage>();
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedFlag = true;
        this.notify();
        resolve();
      }),
    );
  }

  static connect(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Connect and authenticate with the token from `<stateDir>/token`; fails unless auth_result ok:true. */
  static async authenticated(socketPath: string, stateDir: string): Promise<RawClient> {
    const client = await RawClient.connect(socketPath);
    const reply = await client.request(
      { type: 'auth', token: readTokenFile(stateDir) },
      isType('auth_result'),
    );
    if (reply.ok !== true) throw new Error(`auth failed: ${JSON.stringify(reply)}`);
    return client;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Index of the next message to arrive: pass as `since` to wait only for later messages. */
  mark(): number {
    return this.messages.length;
  }

  /** Send one line: an object is JSON-encoded; a string is sent as is (a newline is added if missing). */
  send(message: object | string): void {
    const line = typeof message === 'string' ? message : JSON.stringify(message);
    this.socket.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** The first message at or after `since` matching `predicate`. */
  waitFor(predicate: Predicate, options: WaitOptions = {}): Promise<WireMessage> {
    const since = options.since ?? 0;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      let scanned = since;
      const check = (): boolean => {
        for (; scanned < this.messages.length; scanned++) {
          const message = this.messages[scanned]!;
          if (predicate(message)) {
            resolve(message);
            return true;
          }
        }
        if (this.closedFlag) {
          reject(
            new Error(`connection closed while waiting for ${options.what ?? 'a message'}${this.recent()}`),
          );
          return true;
        }
        return false;
      };
      if (check()) return;
      const listener = () => {
        if (check()) done();
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a message'}${this.recent()}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
    });
  }

  /** Send a line, then wait for the next message (received after sending) that matches. */
  request(
    message: object | string,
    predicate: Predicate,
    options: Omit<WaitOptions, 'since'> = {},
  ): Promise<WireMessage> {
    const since = this.mark();
    this.send(message);
    return this.waitFor(predicate, { what: `reply to ${describeLine(message)}`, ...options, since });
  }

  /** Send a line and wait for the next `error` message. */
  expectError(message: object | string, timeoutMs?: number): Promise<WireMessage> {
    return this.request(message, isType('error'), {
      timeoutMs,
      what: `an error for ${describeLine(message)}`,
    });
  }

  /**
   * Send a ping and wait for its reply: every line sent before has been handled once this resolves.
   * Before auth the reply is a not_authenticated error instead of a pong. Returns the index the
   * reply was awaited from; the reply itself is recorded in `syncReplies`.
   */
  async sync(timeoutMs?: number): Promise<number> {
    const since = this.mark();
    const authenticated = this.authenticated;
    this.send({ type: 'ping' });
    const reply = await this.waitFor(
      authenticated ? isType('pong') : (m) => m.type === 'error' && m.code === 'not_authenticated',
      { since, timeoutMs, what: authenticated ? 'pong' : 'the not_authenticated reply to a ping' },
    );
    this.syncReplies.add(reply);
    return since;
  }

  /** Messages at or after `since`. */
  since(since: number): WireMessage[] {
    return this.messages.slice(since);
  }

  /** All `session_output` for a session from `since`, decoded and concatenated. */
  output(sessionId: string, since = 0): string {
    return Buffer.concat(
      this.messages
        .slice(since)
        .filter(isType('session_output', sessionId))
        .map((message) => Buffer.from(String(message.data), 'base64')),
    ).toString('utf8');
  }

  /** Wait until the decoded output of a session (from `since`) matches. */
  waitForOutput(sessionId: string, pattern: RegExp, options: WaitOptions = {}): Promise<string> {
    const since = options.since ?? 0;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const text = this.output(sessionId, since);
        if (pattern.test(text)) {
          resolve(text);
          return true;
        }
        if (this.closedFlag) {
          reject(
            new Error(`connection closed while waiting for output ${pattern}; got ${JSON.stringify(text)}`),
          );
          return true;
        }
        return false;
      };
      if (check()) return;
      const listener = () => {
        if (check()) done();
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for output ${pattern} from ${sessionId}; got ${JSON.stringify(
              this.output(sessionId, since).slice(-2000),
            )}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
    });
  }

  /** Resolves when the daemon closes the connection; rejects after the timeout. */
  waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    return Promise.race([
      this.closed,
      new Promise<void>((_, reject) =>
        setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) {
        if (start < chunk.length) this.parts.push(chunk.subarray(start));
        break;
      }
      this.parts.push(chunk.subarray(start, newline));
      const line = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      start = newline + 1;
      this.parse(line);
    }
    this.notify();
  }

  private parse(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.badLines.push(line);
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const type = (value as { type?: unknown }).type;
      if (typeof type === 'string') {
        if (type === 'auth_result' && (value as { ok?: unknown }).ok === true) this.authenticated = true;
        this.messages.push(value as WireMessage);
        return;
      }
    }
    this.badLines.push(line);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private recent(): string {
    const tail = this.messages.slice(-5).map((m) => JSON.stringify(m).slice(0, 200));
    return tail.length > 0 ? `; last messages: ${tail.join(' | ')}` : '; no messages received';
  }
}

function describeLine(message: object | string): string {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
