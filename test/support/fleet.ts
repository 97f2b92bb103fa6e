/** Peers for federation tests: real Towers told about each other, and fake ones that hang or lie. */
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { PeerStore } from '../../dist/state/peers.js';

export function removePeer(stateDir: string, name: string): void {
  new PeerStore(stateDir).remove(name);
}

export interface FakePeer {
  url: string;
  /** Bytes the fake has written in all (a flood's client must stop reading it). */
  written(): number;
  /** Requests that are still open. */
  open(): number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** Accepts connections and never answers a byte. */
export async function hangingPeer(): Promise<FakePeer> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  const url = await listen(server);
  return {
    url,
    written: () => 0,
    open: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An HTTP server answering every request through `answer`; `flood` writes JSON-looking bytes for as
 * long as the client reads them.
 */
export async function lyingPeer(answer: (path: string, response: ServerResponse) => void): Promise<FakePeer> {
  let written = 0;
  let open = 0;
  const sockets = new Set<Socket>();
  const server = createHttpServer((request, response) => {
    open++;
    response.on('close', () => open--);
    const write = response.write.bind(response);
    response.write = ((chunk: Buffer | string, ...rest: never[]) => {
      written += Buffer.byteLength(chunk);
      return write(chunk, ...rest);
    }) as typeof response.write;
    answer(request.url ?? '/', response);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const url = await listen(server);
  return {
    url,
    written: () => written,
    open: () => open,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `{"sessions":[` then the same 64 KiB of filler for as long as it is read (bounded at 1 GiB). */
export function flood(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.write('{"sessions":["');
  const filler = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  const more = () => {
    while (sent < 1024 ** 3 && !response.destroyed) {
      sent += filler.length;
      if (!response.write(filler)) return void response.once('drain', more);
    }
  };
  more();
}
