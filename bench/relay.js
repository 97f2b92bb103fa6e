/**
 * Reference for (b): the least a separate daemon process can do. A Unix socket server that, per
 * connection, runs `sh -c PROGRAM` on a @lydell/node-pty PTY and copies bytes both ways, with no
 * protocol, journal or screen model. Usage: node bench/relay.js SOCKET_PATH PROGRAM
 */
import { createServer } from 'node:net';
import * as pty from '@lydell/node-pty';

const [path, program] = process.argv.slice(2);
const server = createServer((socket) => {
  const child = pty.spawn('/bin/sh', ['-c', program], {
    name: 'xterm-256color',
    cols: 80,
    rows: 24,
    cwd: process.cwd(),
    env: process.env,
    encoding: null,
  });
  child.onData((chunk) => socket.write(chunk));
  socket.on('data', (chunk) => child.write(chunk));
  socket.on('close', () => child.kill('SIGKILL'));
  socket.on('error', () => {});
});
server.listen(path, () => process.stdout.write(`relay listening on ${path}\n`));
process.once('SIGTERM', () => process.exit(0));
