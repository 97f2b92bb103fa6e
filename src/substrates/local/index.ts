/** `local`: the daemon's own host, as the daemon's user; always present, and the default. */
import { LOCAL_SUBSTRATE, TowerError } from '../../protocol/index.js';
import { collect } from '../child.js';
import type { Substrate } from '../types.js';
import { streamLocal } from './exec.js';
import { probeLocal } from './probe.js';
import { openLocalPty } from './pty.js';

export function localSubstrate(): Substrate {
  return {
    name: LOCAL_SUBSTRATE,
    type: 'local',
    capabilities: {
      exec: true,
      stream_exec: true,
      reattach: false,
      lifecycle: false,
      isolated: false,
      network: true,
    },
    detail: "the daemon's host, as the daemon's user",
    state: async () => ({ state: 'ready', reason: null }),
    openPty: openLocalPty,
    exec: (command) => collect(streamLocal(command), command),
    streamExec: streamLocal,
    probe: probeLocal,
    reattach: () => {
      throw new TowerError(
        'not_supported',
        'a local session ends with the daemon that runs it: it cannot be reattached',
      );
    },
  };
}
