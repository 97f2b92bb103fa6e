/**
 * `loopback`: a stand-in for tests of remote sessions without an SSH server. This machine reached as a
 * box (LocalBox), its sessions in Tower's own session host there (a second host, in `state_dir`), over
 * one bridge: the same path an ssh or docker substrate takes, so agents on a remote substrate (args
 * and hooks naming no local path, $TOWER_HOOK, the probe on the box) are tested in seconds. Only
 * present when declared: {"name":"lb","type":"loopback","state_dir":"/tmp/…"}.
 */
import { fileURLToPath } from 'node:url';
import { streamBox } from '../box/exec.js';
import { LocalBox } from '../box/local-box.js';
import { probeBox } from '../box/probe.js';
import { BoxHost } from '../box-host/link.js';
import { boxHostSessions } from '../box-host/sessions.js';
import { collect } from '../child.js';
import type { LoopbackConfig } from '../config.js';
import type { Substrate, SubstrateCapabilities } from '../types.js';

const TOWER_BIN = fileURLToPath(new URL('../../../bin/tower.js', import.meta.url));

const LOOPBACK_CAPABILITIES: SubstrateCapabilities = {
  exec: true,
  stream_exec: true,
  reattach: true,
  lifecycle: false,
  isolated: false,
  network: true,
};

export function loopbackSubstrate(config: LoopbackConfig): Substrate {
  const box = new LocalBox(config.name);
  // Made on first use: the control plane only probes (through the session host), never connects.
  let host: BoxHost | null = null;
  const sessions = () => {
    host ??= new BoxHost({
      box,
      tower: async () => [process.execPath, TOWER_BIN, '--state-dir', config.state_dir],
    });
    return boxHostSessions(host);
  };
  return {
    name: config.name,
    type: 'loopback',
    capabilities: LOOPBACK_CAPABILITIES,
    detail: `a test stand-in: this machine as a box, its session host in ${config.state_dir}`,
    remote: true,
    state: async () => ({ state: 'ready', reason: null }),
    openPty: (spec) => sessions().openPty(spec),
    reattach: (sessionId, resume) => sessions().reattach(sessionId, resume),
    exec: (command) => collect(streamBox(box, command), command),
    streamExec: (command) => streamBox(box, command),
    probe: (query) => probeBox(box, query),
  };
}
