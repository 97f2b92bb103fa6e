/**
 * mDNS / DNS-SD on the LAN: this Tower advertised as `_tower._tcp` with TXT name, url, fingerprint
 * and version (never a credential), and the others browsed. What the LAN says is checked like any
 * network input (found.ts) and bounded (MAX_FOUND); it makes a Tower found, never trusted.
 */
import type { EventEmitter } from 'node:events';
import { Bonjour, type Browser } from 'bonjour-service';
import type { FoundPeer } from '../../protocol/federation.js';
import { checkFound } from './found.js';
import { MAX_FOUND, type Source } from './source.js';

export const MDNS_SERVICE_TYPE = 'tower';
/** Announcements catch most arrivals; a query now and then catches the rest. */
const REQUERY_MS = 30_000;
const CLOSE_MS = 1000;
/** Services the browser keeps, valid or not, before the rest are dropped. */
const MAX_KEPT = 2 * MAX_FOUND;

export interface MdnsOptions {
  name: string;
  fingerprint: string;
  version: string;
  /** What to advertise; null: browse only. */
  advertise: { url: string; port: number } | null;
  /** Join the multicast group on this IPv4 address's interface alone (the web's own address). */
  interfaceAddress?: string;
  warn(message: string): void;
}

/** The TXT record: everything in it is public, so a token can never be put there by mistake. */
export function advertisedTxt(options: MdnsOptions, url: string): Record<string, string> {
  return { name: options.name, url, fingerprint: options.fingerprint, version: options.version };
}

/** DNS-SD instance name: one DNS label (no dots, ≤ 63 bytes), unique per identity. */
function instanceName(name: string, fingerprint: string): string {
  const tag = fingerprint
    .replace(/^SHA256:/, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 8);
  return `${name.replace(/\./g, '-').slice(0, 50)}-${tag}`;
}

export class MdnsSource implements Source {
  readonly source = 'mdns' as const;
  private problem: string | null = null;
  private readonly bonjour: Bonjour;
  private readonly browser: Browser;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: MdnsOptions) {
    const socket = options.interfaceAddress
      ? // Bound to the unicast address, Linux would not deliver multicast to the socket.
        { interface: options.interfaceAddress, bind: '0.0.0.0' }
      : {};
    // Its options go to multicast-dns, whatever its type says.
    this.bonjour = new Bonjour(socket as object, (error: Error) => this.fail(error));
    // multicast-dns emits 'error' (port taken, no permission); unheard, that would end the process.
    (this.bonjour as unknown as { server: { mdns: EventEmitter } }).server.mdns.on('error', (error: Error) =>
      this.fail(error),
    );
    if (options.advertise) {
      this.bonjour.publish({
        name: instanceName(options.name, options.fingerprint),
        type: MDNS_SERVICE_TYPE,
        port: options.advertise.port,
        txt: advertisedTxt(options, options.advertise.url),
        // The instance name carries the identity: a clash is another Tower claiming it, not ours to yield to.
        probe: false,
      });
    }
    this.browser = this.browse();
    this.timer = setInterval(() => {
      this.browser.expire();
      this.browser.update();
    }, REQUERY_MS);
    this.timer.unref();
  }

  get error(): string | null {
    return this.problem;
  }

  list(): FoundPeer[] {
    const found = new Map<string, FoundPeer>();
    for (const service of this.browser.services) {
      if (found.size >= MAX_FOUND) break;
      const peer = checkFound(service.txt ?? {}, 'mdns');
      if ('refused' in peer || peer.fingerprint === null) continue;
      if (peer.fingerprint === this.options.fingerprint) continue;
      found.set(peer.fingerprint, peer);
    }
    return [...found.values()];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.browser.stop();
    // Goodbye packets (TTL 0) tell the others at once that this Tower is gone; bounded, as sends can hang.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_MS);
      this.bonjour.unpublishAll(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_MS);
      this.bonjour.destroy(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private browse(): Browser {
    const browser = this.bonjour.find({ type: MDNS_SERVICE_TYPE });
    // The library keeps every service it hears of: a flood of names is cut back to a bound. (Starting the
    // browser over instead would query the LAN again, and the flood would answer again.)
    browser.on('up', () => {
      if (browser.services.length <= MAX_KEPT) return;
      browser.services.splice(MAX_KEPT);
      (browser as unknown as { serviceMap: object }).serviceMap = {};
    });
    return browser;
  }

  private fail(error: Error): void {
    const message = `mDNS: ${error.message}`.slice(0, 500);
    if (message !== this.problem) this.options.warn(message);
    this.problem = message;
  }
}
