/**
 * The screen feed against a journal that drops or loses bytes it has not fed yet: the screen goes on
 * from where the journal can, and no one waits for the bytes it stepped over.
 */
import { describe, expect, it } from 'vitest';
import { type FeedJournal, ScreenFeed } from '../dist/sessions/screen-feed.js';

const MiB = 1024 * 1024;

/** A journal of `end` bytes, all in memory from `start` on, with no disk. */
class FakeJournal implements FeedJournal {
  diskCapBytes = 256 * MiB;
  constructor(
    public start: number,
    public end: number,
  ) {}
  readRing(from: number, maxBytes: number): Buffer | null {
    if (from < this.start) return null;
    return Buffer.alloc(Math.min(maxBytes, this.end - from), 0x61);
  }
  async readAsync(from: number): Promise<Buffer> {
    throw new Error(`offset ${from} is not retained`);
  }
  nextRetained(from: number): number {
    return Math.max(from, this.start);
  }
}

/** An emulator that parses everything posted to it when told to. */
class FakeTarget {
  healthy = true;
  posted: Array<{ length: number; end: number }> = [];
  write(_id: string, data: Buffer, endOffset: number): void {
    this.posted.push({ length: data.length, end: endOffset });
  }
  answerQueries(): void {}
}

async function settle(feed: ScreenFeed, target: FakeTarget): Promise<void> {
  // Parse what was posted, as the worker reports it, until nothing more comes.
  for (let i = 0; i < 100; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    const next = target.posted.shift();
    if (!next) return;
    feed.parsedTo(next.end);
  }
}

describe('a screen feed stepping over bytes the journal no longer holds', () => {
  it('goes on past a skip larger than its window', async () => {
    const journal = new FakeJournal(0, 1000);
    const target = new FakeTarget();
    const feed = new ScreenFeed(journal, target, 's', 0);
    feed.pump();
    await settle(feed, target);
    expect(feed.lag).toBe(0);

    // The program streamed 10 MiB while the feed was held; the oldest 8 MiB were dropped meanwhile.
    journal.end = 1000 + 10 * MiB;
    journal.start = 1000 + 8 * MiB;
    feed.pump();
    await settle(feed, target);
    expect(feed.lag).toBe(0);
  });

  it('does not keep a snapshot waiting for bytes it stepped over at the end', async () => {
    const journal = new FakeJournal(0, 1000);
    const target = new FakeTarget();
    const feed = new ScreenFeed(journal, target, 's', 0);
    feed.pump();
    await settle(feed, target);
    // The last bytes are in a gap (readAsync rejects): nothing after them to post.
    journal.end = 2000;
    journal.readRing = () => null;
    journal.nextRetained = (from: number) => (from <= 1000 ? from : 2000);
    const began = Date.now();
    const caughtUp = feed.caughtUp(journal.end);
    feed.pump();
    await settle(feed, target);
    await caughtUp;
    expect(Date.now() - began).toBeLessThan(500);
    expect(feed.lag).toBe(0);
  });
});
