/**
 * One listener on an emitter, shared by every connection that watches it. A listener per connection
 * would trip Node's MaxListenersExceededWarning past ten watchers, and raising the limit would hide a
 * real leak behind it; here the emitter keeps one listener however many connections watch.
 */

export class FanOut<Args extends unknown[]> {
  private readonly listeners = new Set<(...args: Args) => void>();

  /** `listen` registers the one relay on the emitter. */
  constructor(listen: (relay: (...args: Args) => void) => void) {
    listen((...args) => {
      for (const listener of this.listeners) listener(...args);
    });
  }

  /** Returns a function that stops listening. */
  add(listener: (...args: Args) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
