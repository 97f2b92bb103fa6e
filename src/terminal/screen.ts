/**
 * Main-thread handle on the screen model: every session's output is mirrored into a
 * headless xterm living in one shared worker thread (see screen-worker.ts), so parsing
 * never blocks the daemon. Snapshots are exact as of the last byte written before them.
 */
import { Worker } from 'node:worker_threads';

export interface ScreenSnapshot {
  /** The screen is exact as of this output offset. */
  offset: number;
  cols: number;
  rows: number;
  /** 0-based, relative to the visible screen. */
  cursorX: number;
  cursorY: number;
  altScreen: boolean;
  /** ANSI that, written into a fresh terminal of cols×rows, reproduces visible rows, cursor, modes, plus scrollback. */
  data: string;
  /** The visible screen only, no scrollback (to paint after history replayed from the journal). */
  screenOnly: boolean;
}

export interface ScreenText {
  offset: number;
  cols: number;
  rows: number;
  cursorX: number;
  cursorY: number;
  /** Visible rows, trailing spaces trimmed per line, joined by '\n'. */
  text: string;
  /** The program enabled bracketed paste (DECSET 2004): pasted text should be wrapped. */
  bracketedPaste: boolean;
}

export interface ScreenHostOptions {
  /** Lines of scrollback kept and included in snapshots; default 1000. */
  scrollback?: number;
}

/** Protocol with screen-worker.ts: the host posts arrays of commands, the worker posts ScreenEvents. */
export type ScreenCommand =
  | {
      kind: 'create';
      id: string;
      cols: number;
      rows: number;
      startOffset: number;
      answerQueries: boolean;
      scrollback: number;
    }
  | { kind: 'write'; id: string; data: Uint8Array; endOffset: number }
  | { kind: 'resize'; id: string; cols: number; rows: number }
  | { kind: 'snapshot' | 'text'; id: string; requestId: number; screenOnly?: boolean }
  | { kind: 'answer'; id: string }
  | { kind: 'dispose'; id: string };

export type ScreenResult =
  | { requestId: number; ok: true; value: ScreenSnapshot | ScreenText }
  | { requestId: number; ok: false; error: string };

/** One worker→main message: everything that happened since the previous one. */
export interface ScreenEvents {
  replies: Array<[id: string, data: string]>;
  results: ScreenResult[];
  parsed: Array<[id: string, offset: number]>;
}

interface PendingRequest {
  resolve: (value: ScreenSnapshot | ScreenText) => void;
  reject: (error: Error) => void;
}

type WriteCommand = Extract<ScreenCommand, { kind: 'write' }>;

const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export class ScreenHost {
  /** Terminal query replies (DA1/DA2, cursor position report, DSR…) the emulator produced: the daemon writes them to the PTY. */
  onReply: (id: string, data: string) => void = () => {};
  /** Parsing progress: the session's emulator has consumed output up to `offset`. At most one per session per worker message batch. */
  onParsed: (id: string, offset: number) => void = () => {};

  /** The worker died and a fresh one replaced it: every screen must be created and fed again. */
  onRestart: () => void = () => {};
  /** The screen model is gone for good (it kept crashing): nothing will be parsed any more. */
  onFailed: () => void = () => {};

  /** Whether writes are being parsed (false once the host has failed for good or is closed). */
  get healthy(): boolean {
    return this.failure === undefined;
  }

  private worker!: Worker;
  private closed = false;
  private readonly restarts: number[] = [];
  private readonly scrollback: number;
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 1;
  /** Commands not yet posted; sent together so a burst of small writes costs one message. */
  private outbox: ScreenCommand[] = [];
  /** Chunks of the trailing write command in the outbox, joined when posted. */
  private trailingChunks: Uint8Array[] = [];
  private flushScheduled = false;
  private failure: Error | undefined;

  constructor(opts: ScreenHostOptions = {}) {
    this.scrollback = opts.scrollback ?? 1000;
    this.startWorker();
  }

  private startWorker(): void {
    const worker = new Worker(new URL('./screen-worker.js', import.meta.url));
    this.worker = worker;
    // An idle screen host must not keep the process alive; a pending request must.
    worker.unref();
    worker.on('message', (events: ScreenEvents) => this.receive(events));
    worker.on('error', (error) => this.crashed(worker, error));
    worker.on('exit', (code) => this.crashed(worker, new Error(`screen worker exited with code ${code}`)));
  }

  /**
   * A dead worker takes every screen with it; sessions must go on. Start a fresh one and let the
   * owner rebuild the screens from their journals, unless it keeps dying (then fail for good).
   */
  private crashed(worker: Worker, error: Error): void {
    if (worker !== this.worker || this.closed || this.failure) return;
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
    this.outbox = [];
    this.trailingChunks = [];
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && now - this.restarts[0]! > RESTART_WINDOW_MS) this.restarts.shift();
    if (this.restarts.length > MAX_RESTARTS) {
      this.fail(
        new Error(`screen worker failed ${this.restarts.length} times in a minute: ${error.message}`),
      );
      return;
    }
    this.startWorker();
    this.onRestart();
  }

  create(
    id: string,
    cols: number,
    rows: number,
    startOffset: number,
    opts: { answerQueries?: boolean } = {},
  ): void {
    const answerQueries = opts.answerQueries ?? true;
    this.send({ kind: 'create', id, cols, rows, startOffset, answerQueries, scrollback: this.scrollback });
  }

  /** Bytes ending at absolute output offset `endOffset`. The bytes are copied; the caller may reuse them. */
  write(id: string, data: Uint8Array, endOffset: number): void {
    if (this.failure) return;
    const last = this.outbox[this.outbox.length - 1];
    // Only bytes that follow on join the trailing write: the worker counts offsets back from its end.
    if (last?.kind === 'write' && last.id === id && last.endOffset === endOffset - data.length) {
      this.trailingChunks.push(new Uint8Array(data));
      last.endOffset = endOffset;
      return;
    }
    this.joinTrailingChunks();
    const copy = new Uint8Array(data);
    this.trailingChunks = [copy];
    this.send({ kind: 'write', id, data: copy, endOffset });
  }

  resize(id: string, cols: number, rows: number): void {
    this.send({ kind: 'resize', id, cols, rows });
  }

  snapshot(id: string, options: { screenOnly?: boolean } = {}): Promise<ScreenSnapshot> {
    return this.request('snapshot', id, options.screenOnly) as Promise<ScreenSnapshot>;
  }

  text(id: string): Promise<ScreenText> {
    return this.request('text', id) as Promise<ScreenText>;
  }

  /** Start answering terminal queries in bytes written from now on (after a rebuild from the log). */
  answerQueries(id: string): void {
    this.send({ kind: 'answer', id });
  }

  dispose(id: string): void {
    this.send({ kind: 'dispose', id });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('screen host closed'));
    await this.worker.terminate();
  }

  private request(
    kind: 'snapshot' | 'text',
    id: string,
    screenOnly?: boolean,
  ): Promise<ScreenSnapshot | ScreenText> {
    if (this.failure) return Promise.reject(this.failure);
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.worker.ref();
      this.send({ kind, id, requestId, screenOnly });
    });
  }

  private send(command: ScreenCommand): void {
    if (this.failure) return;
    if (command.kind !== 'write') this.joinTrailingChunks();
    this.outbox.push(command);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private joinTrailingChunks(): void {
    const last = this.outbox[this.outbox.length - 1];
    if (last?.kind === 'write' && this.trailingChunks.length > 1) last.data = concat(this.trailingChunks);
    this.trailingChunks = [];
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.failure) return;
    this.joinTrailingChunks();
    const batch = this.outbox;
    this.outbox = [];
    // Every write's buffer is a private copy, so hand it over rather than clone it again.
    const transfer = batch.filter((c): c is WriteCommand => c.kind === 'write').map((c) => c.data.buffer);
    this.worker.postMessage(batch, transfer as ArrayBuffer[]);
  }

  private receive(events: ScreenEvents): void {
    for (const [id, data] of events.replies) this.onReply(id, data);
    for (const result of events.results) {
      const request = this.pending.get(result.requestId);
      if (!request) continue;
      this.pending.delete(result.requestId);
      if (result.ok) request.resolve(result.value);
      else request.reject(new Error(result.error));
    }
    if (this.pending.size === 0) this.worker.unref();
    for (const [id, offset] of events.parsed) this.onParsed(id, offset);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.outbox = [];
    this.trailingChunks = [];
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const joined = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}
