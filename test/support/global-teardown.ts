/**
 * Session hosts outlive `tower serve` by design; a test that starts serve itself (or never stops its
 * daemon) would leave one behind. After the run, every host this checkout started in a temp state dir
 * is ended.
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOWER_BIN } from './daemon.js';

export default function setup(): () => void {
  return () => {
    try {
      execFileSync('pkill', ['-KILL', '-f', `${TOWER_BIN} --state-dir ${join(tmpdir(), '')}.* host run`]);
    } catch {
      // None left (pkill exits 1).
    }
  };
}
