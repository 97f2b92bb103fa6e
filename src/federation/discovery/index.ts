/**
 * Discovery: the Towers that mDNS, Tailscale and the static list found, this one left out. It only
 * finds: nothing here is trusted, and nothing here is sent a credential. Each source runs on its
 * own; one that fails (or cannot start) says why and leaves the others be.
 */
import type { DiscoveryResponse, DiscoverySource, FoundPeer } from '../../protocol/federation.js';
import { MdnsSource } from './mdns.js';
import type { Source } from './source.js';
import { staticSource } from './static.js';
import { findTailscale, tailscaleSource } from './tailscale.js';

export interface DiscoveryOptions {
  stateDir: string;
  name: string;
  fingerprint: string;
  version: string;
  /** null: no mDNS at all (neither advertised nor browsed). */
  mdns: { advertise: { url: string; port: number } | null; interfaceAddress?: string } | null;
  /** null: Tailscale is not asked, even when the command exists. */
  tailscale: { ports: number[]; program?: string } | null;
  warn(message: string): void;
}

/** A source that could not start: it lists nothing and says why. */
class FailedSource implements Source {
  constructor(
    readonly source: DiscoverySource,
    readonly error: string,
  ) {}
  list(): FoundPeer[] {
    return [];
  }
  async close(): Promise<void> {}
}

export class Discovery {
  private readonly sources: Source[] = [];

  constructor(private readonly options: DiscoveryOptions) {
    const { mdns, tailscale } = options;
    if (mdns) this.add('mdns', () => new MdnsSource({ ...options, ...mdns }));
    const program = tailscale ? (tailscale.program ?? findTailscale()) : null;
    if (tailscale && program) {
      this.add('tailscale', () => {
        const source = tailscaleSource(program, tailscale);
        void source.start();
        return source;
      });
    }
    this.add('static', () => {
      const source = staticSource(options.stateDir);
      void source.start();
      return source;
    });
  }

  /**
   * Every Tower found, once per source that found it (so a caller can say how each was found), this
   * Tower never among them.
   */
  list(): FoundPeer[] {
    return this.sources.flatMap((source) =>
      source
        .list()
        .filter((peer) => peer.fingerprint === null || peer.fingerprint !== this.options.fingerprint),
    );
  }

  status(): DiscoveryResponse {
    const running = new Map(this.sources.map((source) => [source.source, source]));
    return {
      found: this.list(),
      sources: (['mdns', 'tailscale', 'static'] as const).map((name) => ({
        source: name,
        enabled: running.has(name),
        error: running.get(name)?.error ?? null,
      })),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((source) => source.close().catch(() => {})));
  }

  private add(name: DiscoverySource, start: () => Source): void {
    try {
      this.sources.push(start());
    } catch (error) {
      const message = `${name}: ${(error as Error).message}`.slice(0, 500);
      this.options.warn(`discovery: ${message}`);
      this.sources.push(new FailedSource(name, message));
    }
  }
}
