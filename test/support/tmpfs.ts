/**
 * A small, real filesystem that fills up: a tmpfs of a given size, mounted for one test (needs root,
 * as CI has). Without root the test skips, or fails under TOWER_TEST_STRICT=1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CAN_MOUNT = process.getuid?.() === 0;
const STRICT = process.env.TOWER_TEST_STRICT === '1';

if (!CAN_MOUNT && !STRICT) process.stderr.write('full-disk tests skipped: mounting a tmpfs needs root\n');

/** Whether full-disk tests run here (they fail rather than skip under TOWER_TEST_STRICT=1). */
export const RUN_FULL_DISK = CAN_MOUNT || STRICT;

export interface SmallDisk {
  dir: string;
  /** Fill what is left (leaving `spareBytes`) with a file that `free()` removes. */
  fill(spareBytes?: number): void;
  free(): void;
  availableBytes(): number;
  unmount(): void;
}

export function mountSmallDisk(sizeBytes: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'tower-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  const availableBytes = () => {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  };
  return {
    dir,
    fill(spareBytes = 0) {
      const size = Math.max(0, availableBytes() - spareBytes);
      try {
        writeFileSync(filler, Buffer.alloc(size));
      } catch {
        // Full before the last byte: full is what was asked for.
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    availableBytes,
    unmount() {
      try {
        execFileSync('umount', ['-l', dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
