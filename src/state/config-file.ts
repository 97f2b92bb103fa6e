/**
 * A configuration file in the state dir (runtimes.json, substrates.json), read again whenever it
 * changes: its modification time and size are compared at each look, so an edit takes effect at the
 * next request without a restart or a watcher.
 */
import { readFileSync, statSync } from 'node:fs';

export type ConfigRead = { absent: true } | { text: string } | { error: string };

export class ConfigFile {
  private stamp = '';

  constructor(readonly path: string) {}

  /** What the file holds now if it changed since the last look; null if it did not. */
  changed(): ConfigRead | null {
    let stamp: string;
    try {
      const stat = statSync(this.path);
      // The inode too: peers.json is replaced by rename, and a new grant of the same size within the
      // file system's time granularity must still be seen (a revoked token refused at once).
      stamp = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    } catch {
      stamp = 'absent';
    }
    if (stamp === this.stamp) return null;
    this.stamp = stamp;
    if (stamp === 'absent') return { absent: true };
    try {
      return { text: readFileSync(this.path, 'utf8') };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }
}
