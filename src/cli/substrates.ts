/** `tower substrates`: where sessions can run (`local` and those of substrates.json), with their state. */
import type { Command } from 'commander';
import type { TowerClient } from '../client/client.js';
import type { SubstrateInfo } from '../protocol/index.js';
import { escapeControls, terminalJson } from './escape.js';
import { formatColumns } from './table.js';

type WithClient = <T>(work: (client: TowerClient) => Promise<T>) => Promise<T>;

export function addSubstrateCommands(program: Command, withClient: WithClient): void {
  program
    .command('substrates')
    .description(
      'list where sessions can run (local, and those of <state-dir>/substrates.json), with their state',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const reply = await withClient((client) => client.substrates());
      if (options.json) {
        const { substrates, config_error } = reply;
        process.stdout.write(`${terminalJson({ substrates, config_error }, 2)}\n`);
        return;
      }
      process.stdout.write(formatSubstrates(reply.substrates));
      if (reply.config_error) process.stderr.write(`tower: ${escapeControls(reply.config_error)}\n`);
    });
}

function formatSubstrates(substrates: SubstrateInfo[]): string {
  return formatColumns(
    ['SUBSTRATE', 'TYPE', 'STATE', 'ISOLATED', 'NETWORK', 'DETAIL'],
    substrates.map((substrate) => [
      substrate.name,
      substrate.type,
      substrate.state,
      substrate.capabilities.isolated ? 'yes' : 'no',
      substrate.capabilities.network ? 'on' : 'off',
      substrate.reason ?? substrate.detail,
    ]),
  );
}
