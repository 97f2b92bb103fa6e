/**
 * (i) Control-plane restart: 100 running sessions, `tower serve` killed (-9), a new one started on the
 * same state dir. Times, per round: from starting the new `serve` to its line "N running sessions
 * adopted", and from there until every session has answered typed input through a fresh client (so
 * each streams again). Reference (same run): the same restart with no session, so the difference per
 * session is what adopting one costs.
 */
import { spawn } from 'node:child_process';
import { log, median, now, ROOT, startDaemon, TOWER_BIN } from './lib.js';

const SESSIONS = 100;
const ROUNDS = 3;
const ECHO = ['-c', 'stty raw -echo; exec cat'];

/** Start `tower serve --no-http` on stateDir; resolves with the child once it says it adopted. */
export function startServe(stateDir) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(process.execPath, [TOWER_BIN, '--state-dir', stateDir, 'serve', '--no-http'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ROOT,
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk.toString();
      const adopted = /(\d+) running sessions? adopted/.exec(output);
      if (adopted) resolve({ child, ms: now() - t0, adopted: Number(adopted[1]) });
    });
    child.stderr.on('data', (chunk) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`serve exited early (${code}): ${output}`)));
  });
}

export function killNow(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Every session echoes a marker through a fresh connection; resolves with the time it took. */
export async function allStreaming(daemon, ids) {
  const client = await daemon.connect();
  const t0 = now();
  const pending = new Set(ids);
  const marker = `m${Math.random().toString(36).slice(2, 8)}`;
  const done = new Promise((resolve) => {
    client.on('output', (event) => {
      if (event.data.toString().includes(marker) && pending.delete(event.sessionId) && pending.size === 0) {
        resolve();
      }
    });
  });
  const sessions = await client.list();
  for (const id of ids) {
    const info = sessions.find((session) => session.id === id);
    await client.subscribe(id, { fromOffset: info.last_offset });
    client.input(id, marker);
  }
  await done;
  const ms = now() - t0;
  client.end();
  return ms;
}

async function restartRounds(count) {
  const daemon = await startDaemon({ args: ['--no-http', '--max-sessions', String(SESSIONS + 10)] });
  const rounds = [];
  try {
    const client = await daemon.connect();
    const ids = [];
    for (let i = 0; i < count; i++) {
      ids.push((await client.createSession({ shell: '/bin/sh', args: ECHO, cwd: ROOT })).sessionId);
    }
    client.end();
    let serve = daemon.child;
    for (let round = 0; round < ROUNDS; round++) {
      await killNow(serve);
      const started = await startServe(daemon.stateDir);
      serve = started.child;
      const streamingMs = ids.length > 0 ? await allStreaming(daemon, ids) : 0;
      rounds.push({ adoptMs: started.ms, adopted: started.adopted, streamingMs });
      log(
        `adopt ${count}: round ${round + 1}: ${started.adopted} adopted in ${started.ms.toFixed(0)} ms; all streaming ${streamingMs.toFixed(0)} ms later`,
      );
    }
    await killNow(serve);
  } finally {
    await daemon.stop();
  }
  return rounds;
}

export async function run() {
  const empty = await restartRounds(0);
  const full = await restartRounds(SESSIONS);
  const emptyMs = median(empty.map((r) => r.adoptMs));
  const adoptMs = median(full.map((r) => r.adoptMs));
  const streamingMs = median(full.map((r) => r.streamingMs));
  const perSession = (adoptMs - emptyMs) / SESSIONS;
  return {
    name: 'adopt',
    rows: [
      {
        figure: `i. control-plane restart: ${SESSIONS} sessions adopted`,
        value: adoptMs,
        unit: 'ms',
        reference: emptyMs,
        referenceLabel: 'the same restart, no session',
        ratio: adoptMs / emptyMs,
        target: 'all adopted',
        met: full.every((r) => r.adopted === SESSIONS),
        note: `${perSession.toFixed(2)} ms per session over the empty restart; every session echoing again ${streamingMs.toFixed(0)} ms after (${(streamingMs / SESSIONS).toFixed(2)} ms each)`,
      },
    ],
    details: { empty, full },
  };
}
