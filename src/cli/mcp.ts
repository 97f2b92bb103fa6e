/**
 * `tower mcp`: the MCP server on stdin/stdout, for an agent CLI to start (claude mcp add tower -- tower mcp).
 * Its tools reach the running `tower serve` through its web API; stdout carries MCP alone.
 */
import { Command } from 'commander';
import { localWebClient } from '../client/local-web.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_SPAWN, SpawnGuard, spawnLimits } from '../mcp/guard.js';
import { parseCount } from './options.js';

export function mcpCommand(stateDir: () => string, version: string): Command {
  return new Command('mcp')
    .description('run the MCP server on stdio (for claude mcp add, codex config.toml); needs tower serve')
    .option(
      '--max-spawn <n>',
      `agents this server may spawn in all (default ${DEFAULT_MAX_SPAWN}; never more than its parent allowed)`,
      parseCount,
    )
    .option(
      '--max-depth <n>',
      `agents spawned through MCP this many levels deep may spawn no more (default ${DEFAULT_MAX_DEPTH}; 0: none)`,
      parseCount,
    )
    .action(async (options: { maxSpawn?: number; maxDepth?: number }) => {
      const { createTowerMcpServer } = await import('../mcp/server.js');
      const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
      const dir = stateDir();
      const server = createTowerMcpServer({
        client: () => localWebClient(dir),
        guard: new SpawnGuard(spawnLimits(process.env, options)),
        version,
        defaultCwd: process.cwd(),
      });
      const transport = new StdioServerTransport();
      // The client closing stdin is the end of the session.
      process.stdin.once('end', () => void server.close().finally(() => process.exit(0)));
      await server.connect(transport);
    });
}
