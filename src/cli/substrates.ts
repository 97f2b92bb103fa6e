/** `tower substrates`: where sessions can run (`local` and those of substrates.json), with their state. */
import type { Command } from 'commander';
import type { TowerClient } from '../client/client.js';
import type { SubstrateInfo, SubstrateLifecycleAction } from '../protocol/index.js';
import { BootstrapProgress } from './bootstrap.js';
import { escapeControls, terminalJson } from './escape.js';
import { formatColumns } from './table.js';

type WithClient = <T>(work: (client: TowerClient) => Promise<T>) => Promise<T>;

const LIFECYCLE: Record<SubstrateLifecycleAction, string> = {
  provision: 'create its machine (a docker container from its image), if there is none',
  wake: 'start its machine',
  sleep: 'stop its machine (its sessions are disconnected until it wakes)',
  destroy: 'remove its machine and what ran in it (its sessions are lost)',
};

export function addSubstrateCommands(program: Command, withClient: WithClient): void {
  const substrates = program.command('substrates');
  for (const [action, description] of Object.entries(LIFECYCLE) as [SubstrateLifecycleAction, string][]) {
    substrates
      .command(`${action} <name>`)
      .description(description)
      .action(async (name: string) => {
        const reply = await withClient((client) => client.substrateLifecycle(name, action));
        const reason = reply.reason ? ` (${reply.reason})` : '';
        process.stdout.write(`${escapeControls(`${reply.name}: ${reply.state}${reason}`)}\n`);
      });
  }
  substrates
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
  substrates
    .command('bootstrap')
    .description(
      'prepare a substrate on a box (ssh, docker) in phases: check, packages, node, tower, agent, config; ' +
        'a rerun skips the phases that are done',
    )
    .argument('<name>', 'the substrate')
    .option('--force', 'run the phases that are done again')
    .option(
      '--runtime <name...>',
      'an agent runtime the box should run (claude, codex, …): its CLI and credentials are checked',
    )
    .option('--verbose', "print every phase's output (else only a failed phase's last lines)")
    .action(async (name: string, options: { force?: boolean; runtime?: string[]; verbose?: boolean }) => {
      const progress = new BootstrapProgress((text) => process.stdout.write(text), {
        tty: process.stdout.isTTY === true,
        verbose: options.verbose === true,
      });
      const { state, joined } = await withClient((client) =>
        client.bootstrapSubstrate(name, { force: options.force, runtimes: options.runtime }, (event) =>
          progress.event(event),
        ),
      );
      progress.result(state, joined);
      if (state.outcome === 'failed') process.exitCode = 1;
    });
}

function formatSubstrates(substrates: SubstrateInfo[]): string {
  return formatColumns(
    ['SUBSTRATE', 'TYPE', 'STATE', 'BOOTSTRAP', 'ISOLATED', 'NETWORK', 'DETAIL'],
    substrates.map((substrate) => [
      substrate.name,
      substrate.type,
      substrate.state,
      substrate.bootstrap ?? '-',
      substrate.capabilities.isolated ? 'yes' : 'no',
      substrate.capabilities.network ? 'on' : 'off',
      substrate.reason ?? substrate.detail,
    ]),
  );
}
