/**
 * What the credential gate asks, answered from inside a sandbox made as the session's would be (the same
 * workspace, environment and access): which programs are on its PATH, which variables reach it, which
 * files it sees.
 */
import { TowerError } from '../../protocol/index.js';
import { collect } from '../child.js';
import { PROBE_SCRIPT, probeArguments, readProbe } from '../probe-script.js';
import type { ProbeQuery, ProbeResult } from '../types.js';
import type { Sandbox } from './bwrap.js';
import { streamSandbox } from './exec.js';

export async function probeSandbox(sandbox: Sandbox, query: ProbeQuery): Promise<ProbeResult> {
  const argv = ['/bin/sh', '-c', PROBE_SCRIPT, 'probe', ...probeArguments(query)];
  const result = await collect(streamSandbox(sandbox, { ...query, argv, timeoutMs: 10_000 }), {
    argv,
    maxOutputBytes: 256 * 1024,
  });
  if (result.exit_code !== 0) {
    const said = result.stderr.toString('utf8').trim().split('\n')[0] ?? '';
    throw new TowerError(
      'substrate_unavailable',
      `cannot look inside substrate ${sandbox.settings.name}: ${said}`,
    );
  }
  return readProbe(query, result.stdout.toString('utf8'));
}
