/**
 * The runtimes Tower knows: the built-ins, plus custom ones from <state-dir>/runtimes.json, re-read
 * whenever that file changes. A broken file never hides the built-ins; its error names the field.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TowerError } from '../protocol/index.js';
import { describeIssues } from '../protocol/validation.js';
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
  private loadedStamp = '';
  /** Why runtimes.json could not be used, or null. */
  configError: string | null = null;

  constructor(private readonly stateDir: string) {}

  get file(): string {
    return join(this.stateDir, RUNTIMES_FILE);
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
    let stamp = '';
    try {
      const stat = statSync(this.file);
      stamp = `${stat.mtimeMs}:${stat.size}`;
    } catch {
      stamp = 'absent';
    }
    if (stamp === this.loadedStamp) return;
    this.loadedStamp = stamp;
    this.custom = [];
    this.configError = null;
    if (stamp === 'absent') return;
    try {
      this.custom = parseRuntimesFile(readFileSync(this.file, 'utf8'), this.file);
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
