/**
 * The control plane's own database (prompt history), apart from the host's tower.db so that neither
 * process ever waits on the other's writes. Like tower.db it never keeps Tower from starting: a file
 * that cannot be opened or fails its check is set aside, and history lives in memory until next start.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';

export function openAgentsDatabase(file: string, warn: (message: string) => void): Database.Database {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.closeSync(fs.openSync(file, 'a', 0o600));
      const database = new Database(file);
      try {
        database.pragma('journal_mode = WAL');
        const check = database.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw new Error(String(check));
        return database;
      } catch (error) {
        database.close();
        throw error;
      }
    } catch (error) {
      const aside = `${file}.damaged-${Date.now()}`;
      warn(`${file} cannot be used (${(error as Error).message}); moved it to ${aside}`);
      try {
        fs.renameSync(file, aside);
      } catch {
        break;
      }
    }
  }
  warn('prompt history is kept in memory until the next start');
  return new Database(':memory:');
}
