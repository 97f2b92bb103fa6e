/**
 * The recursion guard: an agent that spawns agents through MCP hands each of them its depth and the
 * limits in their environment, so a worker's own `tower mcp` knows how deep it is and how many it may
 * start. Limits only ever tighten on the way down: a worker cannot lift what its parent was given.
 */

export const DEPTH_ENV = 'TOWER_MCP_DEPTH';
export const MAX_DEPTH_ENV = 'TOWER_MCP_MAX_DEPTH';
export const MAX_SPAWN_ENV = 'TOWER_MCP_MAX_SPAWN';

export const DEFAULT_MAX_DEPTH = 2;
export const DEFAULT_MAX_SPAWN = 16;
/** No flag or variable lifts a limit past these. */
const CEILING = { depth: 16, spawn: 1000 };

export interface SpawnLimits {
  /** How many MCP spawns led to the agent this server serves: 0 for one a person started. */
  depth: number;
  /** Agents at this depth may spawn no more. */
  maxDepth: number;
  /** Agents this server may spawn in all. */
  maxSpawn: number;
}

function count(value: string | number | undefined, ceiling: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  // Damaged values count as the strictest, never as "no limit".
  if (!Number.isInteger(parsed) || parsed < 0) return 0;
  return Math.min(parsed, ceiling);
}

/** The limits of a server: its flags, tightened by what its environment inherited from a parent. */
export function spawnLimits(
  env: NodeJS.ProcessEnv,
  flags: { maxDepth?: number; maxSpawn?: number } = {},
): SpawnLimits {
  const inherited = {
    depth: count(env[DEPTH_ENV], CEILING.depth),
    maxDepth: count(env[MAX_DEPTH_ENV], CEILING.depth),
    maxSpawn: count(env[MAX_SPAWN_ENV], CEILING.spawn),
  };
  const pick = (flag: number | undefined, parent: number | undefined, fallback: number, ceiling: number) =>
    Math.min(count(flag, ceiling) ?? fallback, parent ?? ceiling);
  return {
    depth: inherited.depth ?? 0,
    maxDepth: pick(flags.maxDepth, inherited.maxDepth, DEFAULT_MAX_DEPTH, CEILING.depth),
    maxSpawn: pick(flags.maxSpawn, inherited.maxSpawn, DEFAULT_MAX_SPAWN, CEILING.spawn),
  };
}

export class SpawnRefused extends Error {
  readonly code = 'spawn_limit';
}

export class SpawnGuard {
  private spawned = 0;

  constructor(readonly limits: SpawnLimits) {}

  get used(): number {
    return this.spawned;
  }

  /**
   * Take one spawn from the budget, or refuse. Taken before the spawn is sent, so concurrent calls
   * cannot overrun it; `release` gives it back when the spawn failed.
   */
  take(): void {
    const { depth, maxDepth, maxSpawn } = this.limits;
    if (depth >= maxDepth) {
      throw new SpawnRefused(
        `recursion limit: this agent runs at MCP depth ${depth}, and agents at depth ${maxDepth} or deeper ` +
          'may not spawn agents (tower mcp --max-depth)',
      );
    }
    if (this.spawned >= maxSpawn) {
      throw new SpawnRefused(
        `spawn budget used up: this agent has spawned ${this.spawned} of at most ${maxSpawn} agents ` +
          '(tower mcp --max-spawn); reuse or kill one of them',
      );
    }
    this.spawned += 1;
  }

  release(): void {
    this.spawned = Math.max(0, this.spawned - 1);
  }

  /** What a spawned agent is started with, so its own `tower mcp` inherits the limits one level down. */
  childEnv(): Record<string, string> {
    return {
      [DEPTH_ENV]: String(this.limits.depth + 1),
      [MAX_DEPTH_ENV]: String(this.limits.maxDepth),
      [MAX_SPAWN_ENV]: String(this.limits.maxSpawn),
    };
  }
}
