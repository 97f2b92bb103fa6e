/**
 * Acks of write_input are held a moment to ride with the echo: a client that sends its requests and
 * then half-closes the socket (as `nc -N` does) still gets every reply, in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Host, startHost } from '../dist/server/host.js';
import { readTokenFile } from './support/raw-socket.js';

describe('a held ack', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tower-ack-'));
  let host: Host;
  let sessionId: string;

  beforeAll(async () => {
    host = await startHost({ stateDir });
    const session = await host.manager.create({ command: '/bin/cat', cwd: stateDir });
    sessionId = session.id;
  });

  afterAll(async () => {
    await host.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('reaches a client that half-closed after sending its requests', async () => {
    const socket = connect(host.socketPath);
    await new Promise((resolve) => socket.once('connect', resolve));
    const token = readTokenFile(stateDir);
    const lines = [
      { type: 'auth', token, req_id: 1 },
      { type: 'write_input', session_id: sessionId, data: Buffer.from('x').toString('base64'), req_id: 2 },
    ];
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
    });
    socket.end(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    await new Promise((resolve) => socket.once('close', resolve));
    const replies = received
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { type: string; req_id?: number });
    expect(replies.map((reply) => [reply.type, reply.req_id])).toEqual([
      ['auth_result', 1],
      ['ack', 2],
    ]);
  });
});
