/**
 * (g) Failed tokens: a guesser with 50 attempts in flight makes a fixed number of wrong-token attempts
 * on the Unix socket (a fresh connection and one `auth` each) and over HTTP (a Bearer token on
 * GET /api/sessions), each against a fresh daemon. It counts the attempts that were checked (answered
 * "wrong") and those refused unchecked (too_many_attempts, 429), and the checked guesses per second.
 * Beside it, a correct token's time to authenticate from the other transport while the guessing runs,
 * against the same with nobody guessing.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { TowerClient } from '../dist/client/client.js';
import { log, median, now, startDaemon } from './lib.js';

const ATTEMPTS = 20_000;
const IN_FLIGHT = 50;
const CORRECT_SAMPLES = 20;
const WRONG = 'f'.repeat(64);

/** One wrong `auth` on a fresh socket connection: 'checked' (auth_result) or 'refused'. */
function socketGuess(path) {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = '';
    const done = (outcome) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.on('connect', () =>
      socket.write(`${JSON.stringify({ type: 'auth', token: WRONG, req_id: 1 })}\n`),
    );
    socket.on('data', (chunk) => {
      text += chunk;
      if (text.includes('"auth_result"')) done('checked');
      else if (text.includes('too_many_attempts')) done('refused');
    });
    socket.on('error', () => done('error'));
    socket.on('close', () => done('error'));
  });
}

async function httpGuess(base) {
  try {
    const response = await fetch(`${base}/api/sessions`, { headers: { Authorization: `Bearer ${WRONG}` } });
    await response.arrayBuffer();
    return response.status === 401 ? 'checked' : response.status === 429 ? 'refused' : 'error';
  } catch {
    return 'error';
  }
}

/** ATTEMPTS guesses, IN_FLIGHT at a time; meanwhile `probe()` is timed now and then. */
async function guessing(guess, probe) {
  const counts = { checked: 0, refused: 0, error: 0 };
  let started = 0;
  const t0 = now();
  const worker = async () => {
    while (started < ATTEMPTS) {
      started++;
      counts[await guess()]++;
    }
  };
  const workers = Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const probes = [];
  let guessingDone = false;
  workers.then(() => {
    guessingDone = true;
  });
  while (!guessingDone && probes.length < CORRECT_SAMPLES) {
    probes.push(await probe());
    await new Promise((r) => setTimeout(r, 50));
  }
  await workers;
  const seconds = (now() - t0) / 1000;
  return {
    ...counts,
    seconds,
    perSecond: counts.checked / seconds,
    probeMs: median(probes),
    probes: probes.length,
  };
}

async function timed(action) {
  const t0 = now();
  await action();
  return now() - t0;
}

async function run1(transport) {
  const daemon = await startDaemon();
  try {
    const socketPath = join(daemon.stateDir, 'tower.sock');
    // The correct token comes in through the other transport, from a source the guesser does not share.
    const probe =
      transport === 'socket'
        ? () =>
            timed(async () => {
              const response = await fetch(`${daemon.webUrl}/api/sessions`, {
                headers: { Authorization: `Bearer ${daemon.token}` },
              });
              await response.arrayBuffer();
            })
        : () => timed(async () => (await TowerClient.connect({ stateDir: daemon.stateDir })).end());
    const quiet = [];
    for (let i = 0; i < CORRECT_SAMPLES; i++) quiet.push(await probe());
    const guess = transport === 'socket' ? () => socketGuess(socketPath) : () => httpGuess(daemon.webUrl);
    const result = await guessing(guess, probe);
    log(
      `auth ${transport}: ${result.checked} of ${ATTEMPTS} wrong tokens checked, ${result.refused} refused, ` +
        `${result.error} errors in ${result.seconds.toFixed(1)} s = ${result.perSecond.toFixed(1)} guesses/s; ` +
        `a correct token from elsewhere: ${result.probeMs.toFixed(2)} ms (quiet ${median(quiet).toFixed(2)} ms)`,
    );
    return { ...result, quietMs: median(quiet) };
  } finally {
    await daemon.stop();
  }
}

export async function run() {
  const socket = await run1('socket');
  const http = await run1('http');
  const row = (figure, r, other) => ({
    figure,
    value: r.perSecond,
    unit: 'guesses/s',
    reference: null,
    target: '(context)',
    met: null,
    note:
      `${r.checked} of ${ATTEMPTS} attempts checked, ${r.refused} refused unchecked, in ${r.seconds.toFixed(1)} s ` +
      `(${IN_FLIGHT} in flight); a correct token over ${other} meanwhile ${r.probeMs.toFixed(2)} ms, quiet ${r.quietMs.toFixed(2)} ms`,
  });
  return {
    name: 'auth',
    rows: [
      row('g. wrong tokens checked per second, socket', socket, 'HTTP'),
      row('g. wrong tokens checked per second, HTTP', http, 'the socket'),
    ],
    details: { socket, http },
  };
}
