/**
 * Wrong tokens, throttled: one instance serves the Unix socket and HTTP alike.
 *
 * A source's first few wrong tokens (typos, a stale cookie) are answered at once. Past them, a wrong
 * token is answered only after a delay that doubles with each recent failure of its source (and, past
 * a number of failures overall, of everyone's), and answers are released one at a time. A source, or
 * everyone, may have only so many wrong attempts waiting for their answer: past that, attempts are
 * refused without being checked. Parallel guessing therefore gains nothing, while a correct token is
 * checked and accepted at once (unless its source is being refused).
 *
 * Failures are reported on stderr at a bounded rate, as counts per source: never a token.
 */

export interface AuthThrottleOptions {
  /** Recent failures of one source answered at once. */
  sourceFreeFailures?: number;
  /** The answer to the next failure waits this long; each further one doubles it, up to the max. */
  sourceDelayMs?: number;
  sourceMaxDelayMs?: number;
  /** Failures (all sources together) answered without a shared delay; past them everyone waits too. */
  freeFailures?: number;
  globalDelayMs?: number;
  globalMaxDelayMs?: number;
  /** A source (or everyone) with no failure for this long starts over. */
  forgetAfterMs?: number;
  /** Wrong attempts waiting for their answer, per source and overall, past which attempts are refused. */
  maxWaitingPerSource?: number;
  maxWaiting?: number;
  /** Where reports go (a line each, newline included); default stderr. */
  report?: (line: string) => void;
  reportEveryMs?: number;
}

const DEFAULTS: Required<AuthThrottleOptions> = {
  sourceFreeFailures: 20,
  sourceDelayMs: 100,
  sourceMaxDelayMs: 2_000,
  freeFailures: 50,
  globalDelayMs: 10,
  globalMaxDelayMs: 1_000,
  forgetAfterMs: 60_000,
  maxWaitingPerSource: 8,
  maxWaiting: 64,
  report: (line) => process.stderr.write(line),
  reportEveryMs: 10_000,
};

/** Sources remembered at once; past it, new ones share one lane (so a flood of addresses stays bounded). */
const MAX_SOURCES = 4096;
const OVERFLOW_SOURCE = '(other sources)';
/** Sources named in one report line. */
const REPORTED_SOURCES = 5;

export class AttemptRefused extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`too many wrong tokens: try again in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'AttemptRefused';
  }
}

/** One source's (or everyone's) recent failures and the schedule of their answers. */
class Lane {
  failures = 0;
  lastFailureAt = Number.NEGATIVE_INFINITY;
  /** When the next wrong answer may be released. */
  nextReleaseAt = 0;
  waiting = 0;

  recent(now: number, forgetAfterMs: number): number {
    if (now - this.lastFailureAt > forgetAfterMs && this.waiting === 0) this.failures = 0;
    return this.failures;
  }

  /** Records a failure and returns when its answer may go out: after the previous one, plus `delay`. */
  schedule(now: number, delayOf: (failures: number) => number): number {
    this.failures += 1;
    this.lastFailureAt = now;
    this.nextReleaseAt = Math.max(now, this.nextReleaseAt) + delayOf(this.failures);
    return this.nextReleaseAt;
  }
}

export class AuthThrottle {
  private readonly options: Required<AuthThrottleOptions>;
  private readonly lanes = new Map<string, Lane>();
  private readonly everyone = new Lane();
  private readonly reported = new Map<string, number>();
  private refusedSinceReport = 0;
  private reportTimer: NodeJS.Timeout | null = null;

  constructor(options: AuthThrottleOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * Call before checking a token from `source`. Throws AttemptRefused, without the token being
   * checked, while the source or everyone has too many wrong attempts waiting for their answer.
   */
  admit(source: string): void {
    const { maxWaitingPerSource, maxWaiting } = this.options;
    const lane =
      this.lanes.get(source) ??
      (this.lanes.size >= MAX_SOURCES ? this.lanes.get(OVERFLOW_SOURCE) : undefined);
    const full = (lane?.waiting ?? 0) >= maxWaitingPerSource || this.everyone.waiting >= maxWaiting;
    if (!full) return;
    this.refusedSinceReport += 1;
    this.count(source);
    const now = Date.now();
    const retryAt = Math.max(lane?.nextReleaseAt ?? now, this.everyone.nextReleaseAt);
    throw new AttemptRefused(Math.max(1000, retryAt - now));
  }

  /** A wrong token from `source`: resolves when its answer may be sent. */
  failed(source: string): Promise<void> {
    const now = Date.now();
    const { forgetAfterMs } = this.options;
    const lane = this.laneFor(source, now);
    lane.recent(now, forgetAfterMs);
    this.everyone.recent(now, forgetAfterMs);
    const releaseAt = Math.max(
      lane.schedule(now, (n) => this.sourceDelay(n)),
      this.everyone.schedule(now, (n) => this.globalDelay(n)),
    );
    this.count(source);
    if (releaseAt <= now) return Promise.resolve();
    lane.waiting += 1;
    this.everyone.waiting += 1;
    return new Promise((resolve) => {
      setTimeout(() => {
        lane.waiting -= 1;
        this.everyone.waiting -= 1;
        resolve();
      }, releaseAt - now);
    });
  }

  /** The delay before the answer to a source's `failures`-th recent failure. */
  sourceDelay(failures: number): number {
    const { sourceFreeFailures, sourceDelayMs, sourceMaxDelayMs } = this.options;
    return doubling(failures - sourceFreeFailures, sourceDelayMs, sourceMaxDelayMs);
  }

  private globalDelay(failures: number): number {
    const { freeFailures, globalDelayMs, globalMaxDelayMs } = this.options;
    return doubling(failures - freeFailures, globalDelayMs, globalMaxDelayMs);
  }

  private laneFor(source: string, now: number): Lane {
    let lane = this.lanes.get(source);
    if (lane) return lane;
    if (this.lanes.size >= MAX_SOURCES) this.forgetQuietSources(now);
    const key = this.lanes.size >= MAX_SOURCES ? OVERFLOW_SOURCE : source;
    lane = this.lanes.get(key) ?? new Lane();
    this.lanes.set(key, lane);
    return lane;
  }

  private forgetQuietSources(now: number): void {
    for (const [source, lane] of this.lanes) {
      if (lane.recent(now, this.options.forgetAfterMs) === 0) this.lanes.delete(source);
    }
  }

  /** The first failure after a quiet spell is reported at once; later ones are summed up periodically. */
  private count(source: string): void {
    const key = this.reported.has(source) || this.reported.size < MAX_SOURCES ? source : OVERFLOW_SOURCE;
    this.reported.set(key, (this.reported.get(key) ?? 0) + 1);
    if (this.reportTimer !== null) return;
    this.flushReport();
    this.reportTimer = setTimeout(() => this.onReportTimer(), this.options.reportEveryMs);
    this.reportTimer.unref();
  }

  private onReportTimer(): void {
    this.reportTimer = null;
    if (this.reported.size === 0) return;
    this.flushReport();
    this.reportTimer = setTimeout(() => this.onReportTimer(), this.options.reportEveryMs);
    this.reportTimer.unref();
  }

  private flushReport(): void {
    const counts = [...this.reported].sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    const named = counts.slice(0, REPORTED_SOURCES).map(([source, n]) => `${printable(source)}: ${n}`);
    if (counts.length > REPORTED_SOURCES) named.push(`${counts.length - REPORTED_SOURCES} more sources`);
    const refused =
      this.refusedSinceReport > 0 ? `, ${this.refusedSinceReport} of them refused unchecked` : '';
    this.options.report(
      `tower: ${total} failed token attempt${total === 1 ? '' : 's'} (${named.join(', ')})${refused}; ` +
        `answers are delayed up to ${this.options.sourceMaxDelayMs / 1000} s per source\n`,
    );
    this.reported.clear();
    this.refusedSinceReport = 0;
  }
}

/** 0 for the free ones (n <= 0), then first, 2 × first, 4 × first… up to max. */
function doubling(n: number, first: number, max: number): number {
  return n <= 0 ? 0 : Math.min(first * 2 ** Math.min(n - 1, 30), max);
}

/** Sources are addresses, but a log line must never carry control characters. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
