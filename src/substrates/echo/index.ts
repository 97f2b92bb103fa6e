/**
 * `echo`: a stand-in for tests. It runs nothing: a session's terminal echoes what is typed (see pty.ts
 * for the arguments that drive it), a command's output is its argv, and every program is there. Only
 * present when declared in substrates.json: {"name":"echo","type":"echo"}. With `"box": true` this machine
 * stands in for the box of a remote substrate, so bootstrap (which needs one) runs on it in tests.
 */
import { type SessionHostChoice, TowerError } from '../../protocol/index.js';
import { LocalBox } from '../box/local-box.js';
import { collect } from '../child.js';
import type { Substrate, SubstrateCapabilities } from '../types.js';
import { streamEcho } from './exec.js';
import { probeEcho } from './probe.js';
import { openEchoPty } from './pty.js';

/**
 * Not isolated: there is nothing to hide, so an agent on it needs no hook channel and reports through
 * the daemon's socket as on `local`. No network: nothing runs that could use one.
 */
const ECHO_CAPABILITIES: SubstrateCapabilities = {
  exec: true,
  stream_exec: true,
  reattach: false,
  lifecycle: false,
  isolated: false,
  network: false,
};

export function echoSubstrate(settings: {
  name: string;
  box?: boolean;
  session_host?: SessionHostChoice;
}): Substrate {
  return {
    ...(settings.box
      ? { box: new LocalBox(settings.name), sessionHost: settings.session_host ?? 'auto' }
      : {}),
    name: settings.name,
    type: 'echo',
    capabilities: ECHO_CAPABILITIES,
    detail: 'a test stand-in: runs nothing, echoes what is typed',
    state: async () => ({ state: 'ready', reason: null }),
    openPty: openEchoPty,
    exec: (command) => collect(streamEcho(command), command),
    streamExec: streamEcho,
    probe: probeEcho,
    reattach: () => {
      throw new TowerError(
        'not_supported',
        "an echo session lives in the daemon's memory: it cannot be reattached",
      );
    },
  };
}
