/**
 * `tower host bridge`: run on a box by the Tower that drives it (over SSH, or a container's exec). It
 * starts the box's session host when none runs, authenticates with the box's own token (which so
 * never leaves the box), prints the host's auth_result as its first line, then passes bytes both ways
 * between its stdin/stdout and tower.sock until either side ends.
 */
import { connect } from 'node:net';
import { connectHost } from '../control/host-process.js';
import { socketPath, tokenPath } from '../state/paths.js';
import { readToken } from '../state/token.js';

export async function runBridge(stateDir: string): Promise<void> {
  // The host outlives the bridge: it is started in its own session and keeps running when the link drops.
  const started = await connectHost(stateDir, []);
  started.client.end();
  const token = readToken(tokenPath(stateDir));
  if (token === null) throw new Error(`no token at ${tokenPath(stateDir)}`);
  const socket = connect(socketPath(stateDir));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(`${JSON.stringify({ type: 'auth', token, req_id: 0 })}\n`);
  socket.pipe(process.stdout);
  process.stdin.pipe(socket);
  const exit = () => process.exit(0);
  process.stdin.once('end', () => socket.end());
  socket.once('close', exit);
  socket.on('error', exit);
  process.stdout.on('error', exit);
}
