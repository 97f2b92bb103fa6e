/**
 * The screen model as the journal's last reader. Output reaches the emulator only after it reached the
 * journal and every subscriber, a bounded window at a time, read back from the ring (or from disk when
 * the emulator has fallen that far behind). So the program is never held back for the emulator: during
 * a burst the emulator, which runs at a lower priority, may lag, and it catches up once the burst ends.
 * A snapshot waits for it to catch up (see Session.snapshot), so no one sees a screen older than asked.
 */
import { DISK_READS } from './read-slots.js';

/** Bytes posted to the emulator and not yet parsed, per session: the memory the lag may hold. */
export const SCREEN_WINDOW_BYTES = 1024 * 1024;

export interface FeedJournal {
  readonly diskCapBytes: number;
  readonly start: number;
  readonly end: number;
  readRing(from: number, maxBytes: number): Buffer | null;
  readAsync(from: number, maxBytes: number): Promise<Buffer>;
  nextRetained(from: number): number;
}

/** The screen model (ScreenHost): what the feed posts to it. */
export interface FeedTarget {
  /** Bytes ending at absolute offset `endOffset`, for the emulator. */
  write(id: string, data: Buffer, endOffset: number): void;
  /** Start answering terminal queries (bytes before this point were replayed, their queries long answered). */
  answerQueries(id: string): void;
  /** Whether the emulator is still there to parse anything. */
  readonly healthy: boolean;
}

interface Waiter {
  offset: number;
  resolve: () => void;
}

/** Something that must reach the emulator exactly between the bytes before `offset` and those after. */
interface Mark {
  offset: number;
  kind: 'answer' | 'resize';
  run: () => void;
}

/** Marks held while the screen lags; past this, a resize replaces the previous one instead. */
const MAX_MARKS = 64;
/**
 * How long a snapshot waits for a lagging screen to catch up. Past it (a burst the emulator cannot keep
 * up with) the snapshot is exact as of the earlier offset it names, and a subscriber gets the bytes
 * after that from the journal: older, never torn.
 */
const CATCH_UP_MS = 1000;
/** Largest write posted at once, so the emulator reports progress (and the window refills) in steps. */
const MAX_POST_BYTES = 256 * 1024;

export class ScreenFeed {
  /** Posted to the emulator up to here. */
  private fed: number;
  /** Parsed by the emulator up to here. */
  private parsed: number;
  private reading = false;
  private marks: Mark[] = [];
  /**
   * Output stepped over while the emulator still had bytes before it to parse: once it has parsed up
   * to `at`, it is as far as `to` (nothing between will ever reach it).
   */
  private skips: Array<{ at: number; to: number }> = [];
  private waiters: Waiter[] = [];
  /** Bumped by reset, so a disk read begun for an earlier screen is dropped. */
  private generation = 0;
  private stopped = false;
  /** Set while the program streams: nothing is posted unless someone waits for the screen. */
  held = false;

  constructor(
    private readonly journal: FeedJournal,
    private readonly target: FeedTarget,
    private readonly id: string,
    from: number,
  ) {
    this.fed = from;
    this.parsed = from;
  }

  /**
   * The lag at which the program is paused until the screen has caught up to half of it: half of what
   * the journal keeps on disk (128 MiB by default), so the screen never steps over dropped bytes.
   */
  get lagLimit(): number {
    return Math.floor(this.journal.diskCapBytes / 2);
  }

  /** Bytes of output the screen has not parsed yet. */
  get lag(): number {
    return this.journal.end - this.parsed;
  }

  /**
   * A fresh emulator starts at `from` (replaying what the journal holds). It answers terminal queries
   * from `answerFrom` on (bytes before were answered long ago), or never when that is null.
   */
  reset(from: number, answerFrom: number | null): void {
    this.generation++;
    this.reading = false;
    this.stopped = false;
    this.fed = from;
    this.parsed = from;
    this.marks = [];
    this.skips = [];
    if (answerFrom !== null) this.mark(answerFrom, 'answer', () => this.target.answerQueries(this.id));
    this.pump();
  }

  /** The terminal is resized after every byte written so far, as it was for the program. */
  resized(run: () => void): void {
    const last = this.marks[this.marks.length - 1];
    if (last?.kind === 'resize' && (last.offset === this.journal.end || this.marks.length >= MAX_MARKS)) {
      last.run = run;
      return;
    }
    this.mark(this.journal.end, 'resize', run);
  }

  /** Post what the window allows. Runs from output and parse-progress callbacks: it never throws. */
  pump(): void {
    if (this.stopped || this.reading || !this.target.healthy || (this.held && !this.awaited)) return;
    try {
      while (this.fed < this.journal.end && this.fed - this.parsed < SCREEN_WINDOW_BYTES) {
        if (this.fed < this.journal.start) this.skipTo(this.journal.start);
        const data = this.journal.readRing(this.fed, this.room());
        if (data === null) {
          this.readDisk();
          return;
        }
        this.post(data);
      }
    } catch {
      // Only a broken invariant gets here: leave the screen as it is rather than fail the output path.
      this.stop();
    }
  }

  /** The emulator parsed up to `offset`. */
  parsedTo(offset: number): void {
    if (offset > this.parsed) this.parsed = offset;
    while (this.skips.length > 0 && this.skips[0]!.at <= this.parsed) {
      this.parsed = Math.max(this.parsed, this.skips.shift()!.to);
    }
    // Parsed past what was posted: the emulator is gone (or failed) and reports everything parsed.
    if (this.parsed > this.fed) this.fed = this.parsed;
    this.settle();
    this.pump();
  }

  /** Resolves once the screen has parsed every byte up to `offset`, the emulator is gone, or CATCH_UP_MS passed. */
  caughtUp(offset: number): Promise<void> {
    if (this.parsed >= offset || !this.target.healthy || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = { offset, resolve };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, CATCH_UP_MS);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(waiter);
    });
  }

  /** Someone waits for the screen to catch up. */
  get awaited(): boolean {
    return this.waiters.length > 0;
  }

  /** Nothing more is posted (the session is gone, or its screen put away), and no one waits. */
  stop(): void {
    this.stopped = true;
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  private mark(offset: number, kind: Mark['kind'], run: () => void): void {
    this.marks.push({ offset, kind, run });
    this.runMarks();
  }

  /** Bytes to read next: what the window allows, up to the next mark. */
  private room(): number {
    let room = Math.min(MAX_POST_BYTES, SCREEN_WINDOW_BYTES - (this.fed - this.parsed));
    const next = this.marks[0];
    if (next && next.offset > this.fed) room = Math.min(room, next.offset - this.fed);
    return room;
  }

  private post(data: Buffer): void {
    this.fed += data.length;
    this.target.write(this.id, data, this.fed);
    this.runMarks();
  }

  private runMarks(): void {
    while (this.marks.length > 0 && this.marks[0]!.offset <= this.fed) this.marks.shift()!.run();
  }

  /** Output the journal no longer holds (or cannot read): the screen goes on from where it can. */
  private skipTo(offset: number): void {
    if (offset <= this.fed) return;
    // The skipped bytes count as parsed once what came before them is, or the window would stay full.
    const last = this.skips[this.skips.length - 1];
    if (this.parsed >= this.fed) this.parsed = offset;
    else if (last?.to === this.fed) last.to = offset;
    else this.skips.push({ at: this.fed, to: offset });
    this.fed = offset;
    this.runMarks();
    this.settle();
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.parsed >= waiter.offset) waiter.resolve();
      else waiting.push(waiter);
    }
    this.waiters = waiting;
  }

  /** One chunk from disk off the event loop (sharing the subscribers' bound on reads), then on. */
  private readDisk(): void {
    this.reading = true;
    const from = this.fed;
    const generation = this.generation;
    const room = this.room();
    DISK_READS.run(() => this.journal.readAsync(from, room)).then(
      (data) => {
        if (generation !== this.generation) return;
        this.reading = false;
        if (data.length === 0) this.skipTo(this.journal.nextRetained(from + 1));
        else this.post(data);
        this.pump();
      },
      () => {
        if (generation !== this.generation) return;
        this.reading = false;
        // A gap on disk (now marked) or bytes dropped meanwhile: step over them, as a rebuild does.
        this.skipTo(Math.max(this.journal.nextRetained(from), from + 1));
        this.pump();
      },
    );
  }
}
