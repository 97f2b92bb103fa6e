/**
 * (k) Adopting sessions on a remote box: 50 sessions of `stty raw -echo; exec cat` on the ssh substrate
 * (Tower's session host on the box), then, 3 rounds each:
 *   control plane: `tower serve` killed (-9) and started again; the session host, and so the link to
 *     the box, runs on.
 *   session host: `tower serve` killed (-9) and `tower host stop` (the local host ends; the sessions on
 *     the box run on in the box's host), then `tower serve` started again, which starts a new host that
 *     reattaches every session over a new SSH connection and bridge.
 * Each is timed from starting `serve` to its line "N running sessions adopted", to the listing showing
 * all 50 running with their link connected, and to every one of them having echoed a marker through a
 * fresh client. Reference (same run): the same restarts with no session on the box; and with one, which
 * separates what the link costs (an SSH connection and a bridge) from what each session adds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TowerClient } from '../dist/client/client.js';
import { allStreaming, killNow, startServe } from './adopt.js';
import { log, median, now, sleep } from './lib.js';
import { closeAll, remoteSetup } from './remote-lib.js';

const SESSIONS = 50;
const ROUNDS = 3;
const ECHO = ['-c', 'stty raw -echo; exec cat'];
const LINKED_TIMEOUT_MS = 120_000;

/** Resolves with the time (from t0) at which every id is listed running with its link connected. */
async function allLinked(daemon, ids, t0) {
  if (ids.length === 0) return now() - t0;
  const client = await daemon.connect();
  const deadline = now() + LINKED_TIMEOUT_MS;
  try {
    for (;;) {
      const sessions = await client.list();
      const linked = ids.filter((id) => {
        const s = sessions.find((candidate) => candidate.id === id);
        return s?.status === 'running' && s.link?.state === 'connected';
      });
      if (linked.length === ids.length) return now() - t0;
      if (now() > deadline) {
        throw new Error(`${linked.length} of ${ids.length} sessions linked after ${LINKED_TIMEOUT_MS} ms`);
      }
      await sleep(10);
    }
  } finally {
    client.end();
  }
}

async function stopHost(stateDir) {
  const pid = Number(readFileSync(join(stateDir, 'host.pid'), 'utf8'));
  const client = await TowerClient.connect({ stateDir });
  await client.request({ type: 'stop_host' }).catch(() => {});
  client.end();
  for (let waited = 0; ; waited += 20) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (waited > 30_000) throw new Error(`the session host (pid ${pid}) did not stop`);
    await sleep(20);
  }
}

/** The rounds of both restarts over `count` sessions on the ssh box. */
async function scenario(count) {
  const setup = await remoteSetup({ substrates: ['ssh'], daemonArgs: ['--no-http'] });
  const { daemon } = setup;
  const result = { control: [], host: [] };
  let serve = daemon.child;
  try {
    const ids = [];
    for (let i = 0; i < count; i++) {
      ids.push(
        (await setup.client.createSession({ substrate: 'devbox', shell: '/bin/sh', args: ECHO })).sessionId,
      );
    }
    if (count > 0)
      log(
        `remote adopt: ${count} sessions on the box, all echoing in ${(await allStreaming(daemon, ids)).toFixed(0)} ms`,
      );
    for (const kind of ['control', 'host']) {
      for (let round = 0; round < ROUNDS; round++) {
        await killNow(serve);
        if (kind === 'host') await stopHost(daemon.stateDir);
        const t0 = now();
        const started = await startServe(daemon.stateDir);
        serve = started.child;
        const linkedMs = await allLinked(daemon, ids, t0);
        const echoedMs = ids.length > 0 ? linkedMs + (await allStreaming(daemon, ids)) : linkedMs;
        result[kind].push({ adoptedLineMs: started.ms, adopted: started.adopted, linkedMs, echoedMs });
        log(
          `remote adopt ${count}, ${kind} restart ${round + 1}: "${started.adopted} adopted" at ${started.ms.toFixed(0)} ms,` +
            ` all linked at ${linkedMs.toFixed(0)} ms, all echoed at ${echoedMs.toFixed(0)} ms`,
        );
      }
    }
    // serve first, or it would start a new host when this one stops; then a fresh connection (the first
    // one went with the first host) ends the sessions on the box.
    await killNow(serve);
    const client = await daemon.connect();
    await closeAll(client);
    await stopHost(daemon.stateDir);
  } finally {
    await killNow(serve);
    await setup.cleanup();
  }
  return result;
}

export async function run() {
  const empty = await scenario(0);
  // One session: what the link itself costs (an SSH connection, the bridge), apart from the sessions.
  const one = await scenario(1);
  const full = await scenario(SESSIONS);
  const m = (rounds, key) => median(rounds.map((r) => r[key]));
  const row = (kind, label) => {
    const echoed = m(full[kind], 'echoedMs');
    const emptyMs = m(empty[kind], 'linkedMs');
    return {
      figure: `k. ${label}: ${SESSIONS} ssh sessions linked and echoing`,
      value: echoed,
      unit: 'ms',
      reference: emptyMs,
      referenceLabel: 'the same restart, no session',
      ratio: echoed / emptyMs,
      target: 'all adopted',
      met: full[kind].every((r) => r.adopted === SESSIONS),
      note:
        `"adopted" line at ${m(full[kind], 'adoptedLineMs').toFixed(0)} ms, all ${SESSIONS} listed running with link connected at` +
        ` ${m(full[kind], 'linkedMs').toFixed(0)} ms; 1 session: echoing at ${m(one[kind], 'echoedMs').toFixed(0)} ms;` +
        ` ${((echoed - m(one[kind], 'echoedMs')) / (SESSIONS - 1)).toFixed(1)} ms per further session`,
    };
  };
  return {
    name: 'remote-adopt',
    rows: [row('control', 'control-plane restart'), row('host', 'session-host restart')],
    details: { empty, one, full },
  };
}
