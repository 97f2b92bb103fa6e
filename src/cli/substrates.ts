/** `tower substrates`: where sessions can run (`local` and those of substrates.json), with their state. */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { TowerClient } from '../client/client.js';
import type { HostKeyInfo, SubstrateInfo, SubstrateLifecycleAction } from '../protocol/index.js';
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
  substrates
    .command('trust')
    .description(
      "accept an ssh substrate's host key (and its jump host's): shows each fingerprint and asks, " +
        'then adds it to <state-dir>/known_hosts (or the file the substrate names)',
    )
    .argument('<name>', 'the substrate')
    .option('--yes', 'trust the keys shown without asking')
    .action(async (name: string, options: { yes?: boolean }) => {
      process.exitCode = await withClient((client) => trust(client, name, options.yes === true));
    });
}

/**
 * The daemon reads the keys (it holds the substrate's settings and its connection); each unknown one
 * is shown and confirmed here, then sent back by fingerprint, so a key that changed in between is shown
 * again rather than trusted.
 */
async function trust(client: TowerClient, name: string, yes: boolean): Promise<number> {
  const confirmed: string[] = [];
  const describe = (key: HostKeyInfo) =>
    `${key.role === 'jump' ? 'jump host ' : ''}${key.host}:${key.port} ${key.type} ${key.fingerprint}`;
  for (let round = 0; round < 4; round += 1) {
    const reply = await client.trustSubstrate(name, confirmed);
    for (const key of reply.keys) {
      if (key.status === 'trusted') process.stdout.write(`trusted ${escapeControls(describe(key))}\n`);
    }
    const unknown = reply.keys.find((key) => key.status === 'unknown');
    if (!unknown) {
      const file = escapeControls(reply.file);
      process.stdout.write(
        `${name}: host keys trusted${confirmed.length > 0 ? ` (in ${file})` : ' already'}\n`,
      );
      return 0;
    }
    process.stdout.write(
      `${name}: ${escapeControls(describe(unknown))} is not known.\n` +
        'Compare the fingerprint with the one the box shows (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub there).\n',
    );
    if (!yes && !(await ask(`Trust ${unknown.fingerprint}? [y/N] `))) {
      process.stderr.write(
        `tower: not trusted${process.stdin.isTTY ? '' : ' (no terminal to ask on: pass --yes)'}\n`,
      );
      return 1;
    }
    confirmed.push(unknown.fingerprint);
  }
  process.stderr.write('tower: the host keys keep changing: not trusted\n');
  return 1;
}

async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
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
