/**
 * A substrate on a box (ssh, docker), put together from what its folder says (how to reach the box,
 * its state, its lifecycle) and what every box shares: commands and the probe over the link, bootstrap
 * on first use, and sessions kept on the box by Tower's own session host there (the bridge) or, where
 * Node cannot run it, by tmux over one control-mode channel.
 */

import type { BootstrapState, SessionHostChoice, SubstrateCapabilities } from '../../protocol/index.js';
import { TowerError } from '../../protocol/index.js';
import type { BootstrapRuns } from '../bootstrap/runs.js';
import { towerOnBox } from '../bootstrap/state.js';
import { streamBox } from '../box/exec.js';
import { probeBox } from '../box/probe.js';
import type { Box } from '../box/types.js';
import { collect } from '../child.js';
import type { PtySpec, Resume, Substrate, SubstrateContext, SubstrateStatus } from '../types.js';
import { BoxHost } from './link.js';
import { boxHostSessions } from './sessions.js';
import { tmuxSessions } from './tmux-sessions.js';

/** The box's session host keeps its state here, under the box user's home. */
const BOX_STATE_DIR = '.tower/box';

export interface BoxSessions {
  openPty(spec: PtySpec): ReturnType<Substrate['openPty']>;
  reattach(sessionId: string, resume: Resume): ReturnType<Substrate['reattach']>;
  close(): void;
}

export interface RemoteParts {
  name: string;
  type: string;
  capabilities: SubstrateCapabilities;
  detail: string;
  box: Box;
  sessionHost: SessionHostChoice;
  /** Where sessions start when the spawn names no directory (a container's workspace); default home. */
  workdir?: string;
  /** The state dir of Tower's session host on the box (relative: to the box user's home). */
  boxStateDir?: string;
  /** The state of the machine itself (the link, the container). */
  status(): Promise<SubstrateStatus>;
  provision?(): Promise<void>;
  wake?(): Promise<void>;
  sleep?(): Promise<void>;
  destroy?(): Promise<void>;
}

export interface RemoteContext extends SubstrateContext {
  bootstraps: BootstrapRuns;
  /** Where a bootstrap that runs on first use reports (the host's log). */
  log?: (line: string) => void;
}

export function remoteSubstrate(parts: RemoteParts, context: RemoteContext): Substrate {
  const { name, box } = parts;
  const target = { name, box, sessionHost: parts.sessionHost, workdir: parts.workdir };

  /** The box as bootstrapped, bootstrapping it first (core phases must pass) when it never was. */
  const prepared = async (): Promise<BootstrapState> => {
    const known = context.bootstraps.state(name);
    if ((known.outcome === 'ready' || known.outcome === 'warnings') && known.session_host) return known;
    context.log?.(`${name}: preparing the box (tower substrates bootstrap ${name} shows the phases)`);
    const { result } = context.bootstraps.run(target, {}, (event) => {
      if (event.type === 'phase' && (event.state === 'done' || event.state === 'failed')) {
        context.log?.(
          `${name}: bootstrap ${event.name} ${event.state}${event.message ? `: ${event.message}` : ''}`,
        );
      }
    });
    const state = await result;
    if (!state.session_host) {
      throw new TowerError('substrate_unavailable', `${name} is not ready for sessions: ${state.summary}`);
    }
    return state;
  };

  const host = new BoxHost({
    box,
    tower: async () => {
      await prepared();
      const argv = towerOnBox(context.stateDir, name);
      const home = context.bootstraps.state(name).facts.home;
      if (!argv || !home)
        throw new TowerError('substrate_unavailable', `Tower's session host is not on ${name}`);
      const dir = parts.boxStateDir ?? BOX_STATE_DIR;
      return [...argv, '--state-dir', dir.startsWith('/') ? dir : `${home.replace(/\/$/, '')}/${dir}`];
    },
  });
  const towerSessions = boxHostSessions(host);
  let tmuxKept: BoxSessions | null = null;
  const keeper = (choice: 'tower' | 'tmux' | null) => {
    if (choice === 'tower') return towerSessions;
    if (choice === 'tmux') {
      tmuxKept ??= tmuxSessions(box, () => context.bootstraps.state(name).facts.home || '/');
      return tmuxKept;
    }
    throw new TowerError('substrate_unavailable', `nothing keeps sessions on ${name}: bootstrap it first`);
  };
  const withWorkdir = (spec: PtySpec): PtySpec =>
    spec.cwd === '~' && parts.workdir ? { ...spec, cwd: parts.workdir } : spec;

  return {
    name,
    type: parts.type,
    capabilities: parts.capabilities,
    detail: parts.detail,
    remote: true,
    box,
    sessionHost: parts.sessionHost,
    workdir: parts.workdir,
    state: parts.status,
    openPty: async (spec) => keeper((await prepared()).session_host).openPty(withWorkdir(spec)),
    reattach: (sessionId, resume) =>
      keeper(context.bootstraps.state(name).session_host).reattach(sessionId, resume),
    exec: (command) => collect(streamBox(box, command), command),
    streamExec: (command) => streamBox(box, command),
    probe: (query) => probeBox(box, query),
    provision: parts.provision,
    wake: parts.wake,
    sleep: parts.sleep,
    destroy: parts.destroy,
    close: () => {
      // Sessions on the box outlive this substrate object (an edited entry makes a new one).
      host.closeWhenIdle(() => {
        tmuxKept?.close();
        box.close();
      });
    },
  };
}
