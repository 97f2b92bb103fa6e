/**
 * The runtimes Tower knows: the built-ins, plus custom ones from <state-dir>/runtimes.json, re-read
 * whenever that file changes. A broken file never hides the built-ins; its error names the field.
 */
import { join } from 'node:path';
import { TowerError } from '../protocol/index.js';
import { describeIssues } from '../protocol/validation.js';
import { ConfigFile } from '../state/config-file.js';
import { aider } from './runtimes/aider.js';
import { claude } from './runtimes/claude.js';
import { codex } from './runtimes/codex.js';
import { gemini } from './runtimes/gemini.js';
import { goose } from './runtimes/goose.js';
import { opencode } from './runtimes/opencode.js';
import { shell } from './runtimes/shell.js';
import { type AgentRuntime, RuntimesFile } from './spec.js';

export const BUILT_IN_RUNTIMES: readonly AgentRuntime[] = [
  shell,
  claude,
  codex,
  gemini,
  aider,
  goose,
  opencode,
];
export const RUNTIMES_FILE = 'runtimes.json';

export class RuntimeRegistry {
  private custom: AgentRuntime[] = [];
  private readonly config: ConfigFile;
  /** Why runtimes.json could not be used, or null. */
  configError: string | null = null;

  constructor(stateDir: string) {
    this.config = new ConfigFile(join(stateDir, RUNTIMES_FILE));
  }

  get file(): string {
    return this.config.path;
  }

  all(): AgentRuntime[] {
    this.refresh();
    return [...BUILT_IN_RUNTIMES, ...this.custom];
  }

  get(name: string): AgentRuntime {
    const runtime = this.all().find((candidate) => candidate.name === name);
    if (runtime) return runtime;
    const hint = this.configError ? ` (${this.configError})` : '';
    throw new TowerError(
      'unknown_runtime',
      `unknown runtime: ${name}; known: ${this.all()
        .map((r) => r.name)
        .join(', ')}${hint}`,
    );
  }

  private refresh(): void {
    const read = this.config.changed();
    if (read === null) return;
    this.custom = [];
    this.configError = null;
    if ('absent' in read) return;
    try {
      if ('error' in read) throw new Error(`${RUNTIMES_FILE}: cannot read it: ${read.error}`);
      this.custom = parseRuntimesFile(read.text, this.file);
    } catch (error) {
      this.configError = (error as Error).message;
    }
  }
}

/** Parse runtimes.json; throws one message naming the file and every bad field. */
export function parseRuntimesFile(text: string, file = RUNTIMES_FILE): AgentRuntime[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  const parsed = RuntimesFile.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${file}: ${describeIssues(parsed.error, '(top level)', 8)}`);
  }
  const builtIn = new Set(BUILT_IN_RUNTIMES.map((runtime) => runtime.name));
  return Object.entries(parsed.data.runtimes).map(([name, spec]) => {
    if (builtIn.has(name)) throw new Error(`${file}: runtimes.${name}: "${name}" is a built-in runtime`);
    return { name, spec, custom: true, statusChannel: 'screen' as const };
  });
}
