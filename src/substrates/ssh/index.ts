/**
 * `ssh`: a box reached over one SSH connection (SshBox). Commands and the credential probe run there
 * through the box-generic code of ../box; its terminals come with the session host on the box
 * (box-host/remote-substrate.ts composes them from `sshParts`).
 */
import { type RemoteContext, type RemoteParts, remoteSubstrate } from '../box-host/remote-substrate.js';
import type { Substrate, SubstrateCapabilities, SubstrateContext, SubstrateStatus } from '../types.js';
import type { SshConfig } from './config.js';
import { SshBox, type SshBoxOptions } from './connection.js';

/** Sessions live on the box and are adopted again; the box's own network; nothing of this machine. */
const SSH_CAPABILITIES: SubstrateCapabilities = {
  exec: true,
  stream_exec: true,
  reattach: true,
  lifecycle: false,
  isolated: true,
  network: true,
};

/** How long the first look at the state waits for the connection, so a listing says ready, not starting. */
const FIRST_LOOK_MS = 2000;

/** What the ssh folder says of a substrate: how the box is reached and how its link is doing. */
export function sshParts(
  config: SshConfig,
  context: SubstrateContext,
  options: Partial<SshBoxOptions> = {},
): RemoteParts & { box: SshBox } {
  const box = new SshBox(config, { stateDir: context.stateDir, ...options });
  let looked = false;
  return {
    name: config.name,
    type: 'ssh',
    capabilities: SSH_CAPABILITIES,
    detail: describe(config),
    box,
    sessionHost: config.session_host,
    boxStateDir: config.state_dir,
    async status(): Promise<SubstrateStatus> {
      if (!looked) {
        looked = true;
        await box.whenUp(FIRST_LOOK_MS).catch(() => {});
      }
      box.start();
      const link = box.link();
      switch (link.state) {
        case 'up':
          return { state: 'ready', reason: null };
        case 'connecting':
          return { state: 'starting', reason: link.reason };
        case 'down':
        case 'gone':
          return { state: 'error', reason: link.reason };
        case 'closed':
          return { state: 'error', reason: 'closed' };
      }
      return { state: 'unknown', reason: null };
    },
  };
}

export interface SshSubstrate extends Substrate {
  readonly box: SshBox;
  close(): void;
}

/** The substrate: its box's link, and sessions kept on the box (box-host/remote-substrate.ts). */
export function sshSubstrate(
  config: SshConfig,
  context: RemoteContext,
  options: Partial<SshBoxOptions> = {},
): SshSubstrate {
  const parts = sshParts(config, context, options);
  const substrate = remoteSubstrate(parts, context);
  return { ...substrate, box: parts.box, close: () => substrate.close?.() };
}

function describe(config: SshConfig): string {
  const where = `${config.user}@${config.host}:${config.port}`;
  const jump = config.jump
    ? ` via ${config.jump.user ?? config.user}@${config.jump.host}:${config.jump.port}`
    : '';
  const auth = config.identity ? `key ${config.identity}` : config.agent === false ? 'no key' : 'ssh-agent';
  return `${where}${jump}, ${auth}, session host ${config.session_host}`;
}
