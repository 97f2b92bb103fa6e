/**
 * The credential gate's question, asked on a box: one `sh` there (in the box user's home, with the
 * variables given for the session), answering names and yes or no only.
 */
import { TowerError } from '../../protocol/index.js';
import { collect } from '../child.js';
import { PROBE_SCRIPT, probeArguments, readProbe } from '../probe-script.js';
import type { ProbeQuery, ProbeResult } from '../types.js';
import { streamBox } from './exec.js';
import type { Box } from './types.js';

export async function probeBox(box: Box, query: ProbeQuery): Promise<ProbeResult> {
  const argv = ['/bin/sh', '-c', PROBE_SCRIPT, 'probe', ...probeArguments(query)];
  const command = { argv, env: query.env, access: query.access, timeoutMs: 15_000 };
  const run = () => collect(streamBox(box, command), { argv, maxOutputBytes: 256 * 1024 });
  let result = await run();
  // No exit status and nothing said: the link dropped under it (it is re-made). The probe only looks, so
  // asking once more is safe; CI saw one such drop on a loaded machine.
  if (result.exit_code === null && result.stderr.length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    result = await run();
  }
  if (result.exit_code !== 0) {
    const said = result.stderr.toString('utf8').trim().split('\n')[0] || `exit code ${result.exit_code}`;
    throw new TowerError('substrate_unavailable', `cannot look on substrate ${box.name}: ${said}`);
  }
  return readProbe(query, result.stdout.toString('utf8'));
}
