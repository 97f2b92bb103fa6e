/** What the credential gate asks, answered from the daemon's own host: PATH, the environment, the files. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { expandHome, resolveCommand } from '../command.js';
import type { ProbeQuery, ProbeResult } from '../types.js';

export async function probeLocal(query: ProbeQuery): Promise<ProbeResult> {
  const home = query.env.HOME || homedir();
  const programs: ProbeResult['programs'] = {};
  for (const program of query.programs) {
    try {
      programs[program] = resolveCommand(program, query.cwd, query.env.PATH);
    } catch {
      programs[program] = null;
    }
  }
  return {
    home,
    programs,
    variables: Object.fromEntries(query.variables.map((name) => [name, Boolean(query.env[name])])),
    files: Object.fromEntries(query.files.map((file) => [file, existsSync(expandHome(file, home))])),
  };
}
