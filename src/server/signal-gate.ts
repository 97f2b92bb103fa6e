/**
 * What the host lets through of a session's in-band status signals: well-formed ones only, and at most
 * MAX_PER_SECOND per session. A program holding the session's key could otherwise write signals as fast
 * as it writes output, and each becomes a notice the control plane must read; a hook fires a few times
 * a turn. Past the bound they are dropped: status then comes from the screen until the next one.
 */
import { InbandSignal } from '../protocol/index.js';

const MAX_PER_SECOND = 50;
const WINDOW_MS = 1000;

export class SignalGate {
  private readonly windows = new Map<string, { start: number; count: number }>();

  /** The signal in `body` (JSON text), or null when it is malformed or over the session's bound. */
  admit(sessionId: string, body: Buffer): InbandSignal | null {
    const now = Date.now();
    let window = this.windows.get(sessionId);
    if (!window || now - window.start >= WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(sessionId, window);
    }
    if (++window.count > MAX_PER_SECOND) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch {
      return null;
    }
    const parsed = InbandSignal.safeParse(raw);
    return parsed.success ? parsed.data : null;
  }

  forget(sessionId: string): void {
    this.windows.delete(sessionId);
  }
}
