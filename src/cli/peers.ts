/**
 * `tower peer pair|add|grant|rm`: trusting another Tower. Pairing runs in the two `tower serve`s (this
 * command only asks the local one); add, grant and rm edit peers.json, which serve reads afresh at
 * each request, so a removed peer is refused at once.
 */
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { localWebClient } from '../client/local-web.js';
import { API } from '../protocol/api.js';
import { type PeerScope, peerName } from '../protocol/federation.js';
import { PAIRING_DEFAULT_TTL_S, type PairedPeer, type PairOfferState } from '../protocol/pairing.js';
import { loadIdentity } from '../state/identity.js';
import { hashToken, newPeerToken, PeerStore } from '../state/peers.js';
import { readServeInfo } from '../state/serve-info.js';
import { escapeControls } from './escape.js';
import { parsePositive } from './options.js';
import { UsageError } from './usage.js';

const SCOPES: Record<PeerScope, string> = { full: 'full control', view: 'view only' };

const scopeOption = (flags: string, description: string) =>
  new Option(flags, description).choices(['full', 'view']);

function parseName(value: string): string {
  const parsed = peerName.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

function parseUrl(value: string): string {
  if (!z.string().url().safeParse(value).success || !/^https?:\/\//.test(value)) {
    throw new InvalidArgumentError('must be an http:// or https:// URL');
  }
  return value.replace(/\/+$/, '');
}

export function peerCommand(stateDir: () => string): Command {
  const peer = new Command('peer').description('trust other Towers: pair, add, grant, remove');

  peer
    .command('pair')
    .description(
      'without URL: show a one-time code for another Tower to pair with this one, and wait; ' +
        'with URL: pair with the Tower there, typing the code it shows',
    )
    .argument('[url]', 'the other Tower (the URL its `tower peer pair` printed)', parseUrl)
    .addOption(scopeOption('--scope <scope>', 'what the other Tower may do here').default('full'))
    .option('--ttl <seconds>', 'how long the code is valid', parsePositive, PAIRING_DEFAULT_TTL_S)
    .option('--code <code>', 'the code (else asked for, or read from standard input)')
    .option(
      '--advertise-url <url>',
      "how the other Tower reaches this one (default: serve's --advertise-url, else where it listens)",
      parseUrl,
    )
    .action(
      async (
        url: string | undefined,
        options: { scope: PeerScope; ttl: number; code?: string; advertiseUrl?: string },
      ) => (url === undefined ? showCode(stateDir(), options) : typeCode(stateDir(), url, options)),
    );

  peer
    .command('add')
    .description('add a peer by hand (scripted setups): the token it accepts, and/or one for it to use here')
    .argument('<name>', 'what to call it (fleet ids are NAME/ID)', parseName)
    .argument('<url>', 'its web URL', parseUrl)
    .option(
      '--token <token>',
      'a token it accepts (its admin or viewer token, or a peer token); - reads stdin',
    )
    .addOption(scopeOption('--grant <scope>', 'also make a token for it to use here, and print it'))
    .action(async (name: string, url: string, options: { token?: string; grant?: PeerScope }) => {
      if (options.token === undefined && options.grant === undefined) {
        throw new UsageError(
          'give --token (what it accepts), --grant (what it may do here), or both',
          'tower peer add',
        );
      }
      const token = options.token === '-' ? await readLine('') : options.token;
      if (token !== undefined && !/^\S{16,512}$/.test(token)) {
        throw new UsageError('--token: expected 16 to 512 characters without spaces', 'tower peer add');
      }
      const store = new PeerStore(stateDir());
      const known = store.get(name);
      const granted = options.grant === undefined ? null : newPeerToken();
      store.put({
        name,
        url,
        fingerprint: known?.fingerprint ?? null,
        public_key: known?.public_key ?? null,
        token: token ?? known?.token ?? null,
        granted:
          granted === null || options.grant === undefined
            ? (known?.granted ?? null)
            : { token_sha256: hashToken(granted), scope: options.grant },
        given: token === undefined ? (known?.given ?? null) : null,
        added_by: known?.added_by ?? 'manual',
        added_at: known?.added_at ?? new Date().toISOString(),
      });
      process.stderr.write(`added peer ${name} at ${url}\n`);
      if (granted !== null && options.grant) printGrant(stateDir(), name, granted, options.grant);
    });

  peer
    .command('grant')
    .description('make a new token for a peer to use here (its old one stops working), and print it')
    .argument('<name>', 'the peer', parseName)
    .addOption(scopeOption('--scope <scope>', 'what it may do here').default('full'))
    .action((name: string, options: { scope: PeerScope }) => {
      const store = new PeerStore(stateDir());
      const known = store.get(name);
      if (!known)
        throw new Error(`no peer named ${name} (tower peer add ${name} URL --grant ${options.scope})`);
      const token = newPeerToken();
      store.put({ ...known, granted: { token_sha256: hashToken(token), scope: options.scope } });
      printGrant(stateDir(), name, token, options.scope);
    });

  peer
    .command('rm')
    .description('remove a peer: its token is refused from its next request on')
    .argument('<name>', 'the peer', parseName)
    .action((name: string) => {
      if (!new PeerStore(stateDir()).remove(name)) throw new Error(`no peer named ${name}`);
      process.stdout.write(`removed peer ${name}: its token is refused from now on\n`);
    });
  return peer;
}

function printGrant(dir: string, name: string, token: string, scope: PeerScope): void {
  const self = loadIdentity(dir);
  const url = readServeInfo(dir)?.url ?? 'URL';
  process.stderr.write(
    `a token for ${name} (${SCOPES[scope]} here), shown once; on ${name} run:\n` +
      `  tower peer add ${self.name} ${url} --token -   (and paste it)\n`,
  );
  process.stdout.write(`${token}\n`);
}

async function showCode(dir: string, options: { scope: PeerScope; ttl: number }): Promise<void> {
  const client = localWebClient(dir, { timeoutMs: 30_000 });
  const offer = await client.call(API.pairOffer, { body: { scope: options.scope, ttl_s: options.ttl } });
  const minutes = options.ttl >= 120 ? `${Math.round(options.ttl / 60)} min` : `${options.ttl} s`;
  process.stdout.write(
    `Pairing code: ${offer.code}   (valid ${minutes}, ${offer.max_attempts} attempts; ` +
      `the other Tower gets ${SCOPES[offer.scope]} here)\n` +
      `On the other Tower run: tower peer pair ${offer.url}\n` +
      `This Tower: ${escapeControls(offer.name)} ${offer.fingerprint}\n` +
      'Waiting for it…\n',
  );
  if (/^https?:\/\/(127\.|localhost|\[::1\])/.test(offer.url)) {
    process.stderr.write(
      'tower: this serve listens on loopback only: another machine reaches it only once serve listens on ' +
        'an address it can reach (tower serve --host), and with that address in the URL\n',
    );
  }
  const cancel = () => {
    client.call(API.pairOfferCancel, { id: offer.id }).finally(() => process.exit(130));
  };
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  let seen = 0;
  let reported: string | null = null;
  for (;;) {
    const state: PairOfferState = await client.call(API.pairOfferState, {
      id: offer.id,
      query: { wait_ms: 10_000, seen },
      timeoutMs: 20_000,
    });
    seen = state.changes;
    if (state.last_failure !== null && state.last_failure !== reported) {
      reported = state.last_failure;
      if (state.state === 'open') process.stderr.write(`tower: ${state.last_failure}\n`);
    }
    if (state.state === 'open') continue;
    if (state.state === 'paired' && state.peer) {
      process.stdout.write(pairedLine(state.peer));
      process.exit(0);
    }
    throw new Error(OFFER_ENDS[state.state as Exclude<PairOfferState['state'], 'open' | 'paired'>]);
  }
}

const OFFER_ENDS = {
  void: 'too many wrong codes: the pairing offer is void (run tower peer pair again for a new code)',
  expired: 'the pairing code expired before it was used',
  cancelled: 'the pairing offer was withdrawn',
  replaced: 'a newer tower peer pair replaced this offer',
} as const;

async function typeCode(
  dir: string,
  url: string,
  options: { scope: PeerScope; code?: string; advertiseUrl?: string },
): Promise<void> {
  const client = localWebClient(dir, { timeoutMs: 30_000 });
  const code =
    options.code ?? (await readLine('Pairing code (shown by tower peer pair on the other Tower): '));
  const peer = await client.call(API.pairWith, {
    body: { url, code, scope: options.scope, advertise_url: options.advertiseUrl },
  });
  process.stdout.write(pairedLine(peer));
}

function pairedLine(peer: PairedPeer): string {
  const line =
    `Paired with ${peer.name} (${peer.fingerprint}) at ${peer.url}: ` +
    `it has ${SCOPES[peer.granted]} here; this Tower has ${SCOPES[peer.given]} there`;
  return `${escapeControls(line)}\n`;
}

/** One line from the terminal (asked on stderr) or from piped standard input. */
function readLine(prompt: string): Promise<string> {
  const tty = process.stdin.isTTY;
  const lines = createInterface({
    input: process.stdin,
    output: tty ? process.stderr : undefined,
    terminal: tty,
  });
  return new Promise((resolve, reject) => {
    lines.once('line', (line) => {
      resolve(line.trim());
      lines.close();
    });
    lines.once('close', () => reject(new Error('no code given (standard input ended)')));
    if (tty) {
      lines.setPrompt(prompt);
      lines.prompt();
    }
  });
}
