/**
 * One SSH connection to a box, ready for channels: host keys checked against known_hosts (the jump
 * host's too), authenticated by key file or agent, through a jump host when configured (a direct-tcpip
 * channel of the jump connection carries the box's). A failure says whether retrying can help: a host
 * key or authentication refusal cannot until something changes (`fatal`).
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import ssh2, { type Client, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';

// ssh2 is CommonJS: its named exports are reached through the default one.
const { Client: SshClient, utils } = ssh2;

import type { SshConfig } from './config.js';
import {
  checkHostKey,
  defaultKnownHostsFiles,
  describeVerdict,
  expandHome,
  type KnownHostEntry,
  knownKeyTypes,
  readKnownHosts,
} from './known-hosts.js';

export class LinkFailure extends Error {
  constructor(
    message: string,
    /** Retrying will not help until the configuration, known_hosts or the box changes. */
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = 'LinkFailure';
  }
}

export interface Hop {
  role: 'box' | 'jump';
  host: string;
  port: number;
}

/** true: go on; a string: refuse, saying this. */
export type HostKeyCheck = (hop: Hop, key: Buffer) => true | string;

export interface DialOptions {
  config: SshConfig;
  stateDir: string;
  /** TCP connect + handshake + authentication. */
  readyTimeoutMs: number;
  /** Default: known_hosts as configured. */
  checkHostKey?: HostKeyCheck;
}

export interface Dialed {
  client: Client;
  /** The jump host's connection, closed with the box's. */
  jump: Client | null;
}

const ALGORITHMS_OF_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export function knownHostsFiles(config: SshConfig, stateDir: string): string[] {
  return config.known_hosts ? [expandHome(config.known_hosts)] : defaultKnownHostsFiles(stateDir);
}

export async function dial(options: DialOptions): Promise<Dialed> {
  const { config } = options;
  let entries: KnownHostEntry[] = [];
  try {
    entries = await readKnownHosts(knownHostsFiles(config, options.stateDir));
  } catch (error) {
    throw new LinkFailure((error as Error).message, true);
  }
  const check: HostKeyCheck =
    options.checkHostKey ??
    ((hop, key) => {
      const verdict = checkHostKey(entries, hop.host, hop.port, key);
      if (verdict.status === 'known') return true;
      const refusal = describeVerdict(verdict, { name: config.name, host: hop.host, port: hop.port, key });
      return hop.role === 'jump' ? `jump host: ${refusal}` : refusal;
    });
  const agent = agentSocket(config);
  const base = {
    readyTimeout: options.readyTimeoutMs,
    keepaliveInterval: config.keepalive_ms,
    keepaliveCountMax: 3,
    agent,
  };
  let jump: Client | null = null;
  let sock: Duplex | undefined;
  if (config.jump) {
    const hop: Hop = { role: 'jump', host: config.jump.host, port: config.jump.port };
    const identity = config.jump.identity ?? config.identity;
    jump = await open(hop, check, entries, {
      ...base,
      host: hop.host,
      port: hop.port,
      username: config.jump.user ?? config.user,
      privateKey: await readIdentity(identity),
    });
    try {
      sock = await forward(jump, config.host, config.port);
    } catch (error) {
      jump.end();
      throw error;
    }
  }
  const hop: Hop = { role: 'box', host: config.host, port: config.port };
  try {
    const client = await open(hop, check, entries, {
      ...base,
      host: config.host,
      port: config.port,
      sock,
      username: config.user,
      privateKey: await readIdentity(config.identity),
    });
    return { client, jump };
  } catch (error) {
    jump?.end();
    throw error;
  }
}

function agentSocket(config: SshConfig): string | undefined {
  const socket = process.env.SSH_AUTH_SOCK || undefined;
  if (config.agent === false) return undefined;
  if (config.agent === true && !socket) {
    throw new LinkFailure('"agent": true, but the daemon has no SSH_AUTH_SOCK', true);
  }
  return socket;
}

/** The key, checked here so a bad file is named (never its contents) before any connection. */
async function readIdentity(path: string | undefined): Promise<Buffer | undefined> {
  if (!path) return undefined;
  const file = expandHome(path);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw new LinkFailure(
      `cannot read identity ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      true,
    );
  }
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    const why = /passphrase/i.test(parsed.message)
      ? 'it has a passphrase (load it into ssh-agent and use "agent": true)'
      : 'not a private key ssh2 can read';
    throw new LinkFailure(`identity ${file}: ${why}`, true);
  }
  return data;
}

function open(
  hop: Hop,
  check: HostKeyCheck,
  entries: KnownHostEntry[],
  config: ConnectConfig,
): Promise<Client> {
  const client = new SshClient();
  const target = `${hop.role === 'jump' ? 'jump host ' : ''}${hop.host}:${hop.port}`;
  const known = knownKeyTypes(entries, hop.host, hop.port).flatMap(
    (type) => (ALGORITHMS_OF_TYPE[type] ?? []) as ServerHostKeyAlgorithm[],
  );
  return new Promise<Client>((resolve, reject) => {
    let refusal: string | null = null;
    // ssh2 reports everything as 'error' events: one listener for the client's whole life, so none
    // is ever unhandled (the box adds its own once the connection is its).
    client.on('error', () => {});
    const fail = (error: Error & { level?: string; code?: string }) => {
      settle();
      client.end();
      if (refusal !== null) reject(new LinkFailure(refusal, true));
      else if (error.level === 'client-authentication') {
        reject(
          new LinkFailure(
            `authentication failed for ${config.username}@${target} (${methods(config)})`,
            true,
          ),
        );
      } else reject(new LinkFailure(describeSocketError(error, target), false));
    };
    const closed = () => fail(new Error('connection closed during the handshake'));
    const ready = () => {
      settle();
      resolve(client);
    };
    const settle = () => {
      client.removeListener('ready', ready);
      client.removeListener('error', fail);
      client.removeListener('close', closed);
    };
    client.once('ready', ready);
    client.once('error', fail);
    client.once('close', closed);
    client.connect({
      ...config,
      algorithms:
        known.length > 0 ? { serverHostKey: { append: [], remove: known, prepend: known } } : undefined,
      hostVerifier: (key: Buffer) => {
        const verdict = check(hop, key);
        if (verdict === true) return true;
        refusal = verdict;
        return false;
      },
    });
  });
}

function methods(config: ConnectConfig): string {
  const tried = [config.privateKey ? 'identity key' : null, config.agent ? 'ssh-agent' : null].filter(
    Boolean,
  );
  return tried.length > 0 ? `tried: ${tried.join(', ')}` : 'no identity or agent configured';
}

/** A reason a user can act on, from a socket or protocol error. */
export function describeSocketError(
  error: Error & { level?: string; code?: string },
  target: string,
): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${target}`;
    case 'ECONNRESET':
      return `connection reset by ${target}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${target} is unreachable`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${target}`;
    case 'ETIMEDOUT':
      return `connection to ${target} timed out`;
  }
  if (error.level === 'client-timeout') {
    return /keepalive/i.test(error.message)
      ? `keepalive timeout: ${target} stopped answering`
      : `no handshake from ${target} in time`;
  }
  return `${target}: ${error.message}`;
}

function forward(jump: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, host, port, (error, stream) => {
      if (error)
        reject(new LinkFailure(`the jump host cannot reach ${host}:${port}: ${error.message}`, false));
      else resolve(stream);
    });
  });
}
