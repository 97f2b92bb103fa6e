/**
 * At most one bootstrap per substrate at a time. A second caller joins the run under way: it gets the
 * phase events so far and a bounded tail of the output, then everything live, then the same result.
 */
import type { BootstrapEvent, BootstrapState } from '../../protocol/index.js';
import { type BootstrapOptions, type BootstrapTarget, runBootstrap } from './runner.js';
import { bootstrapSummary, readBootstrapState } from './state.js';

const REPLAYED_OUTPUT_LINES = 50;

interface Run {
  readonly phases: BootstrapEvent[];
  readonly output: BootstrapEvent[];
  readonly listeners: Set<(event: BootstrapEvent) => void>;
  readonly result: Promise<BootstrapState>;
}

export class BootstrapRuns {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly stateDir: string) {}

  /** Start one, or join the one under way; `joined` says which. */
  run(
    target: BootstrapTarget,
    options: Omit<BootstrapOptions, 'stateDir' | 'onEvent'>,
    onEvent: (event: BootstrapEvent) => void,
  ): { joined: boolean; result: Promise<BootstrapState> } {
    const current = this.runs.get(target.name);
    if (current) {
      for (const event of [...current.phases, ...current.output]) onEvent(event);
      current.listeners.add(onEvent);
      return { joined: true, result: current.result.finally(() => current.listeners.delete(onEvent)) };
    }
    const listeners = new Set([onEvent]);
    const phases: BootstrapEvent[] = [];
    const output: BootstrapEvent[] = [];
    const deliver = (event: BootstrapEvent) => {
      if (event.type === 'phase') phases.push(event);
      else {
        output.push(event);
        if (output.length > REPLAYED_OUTPUT_LINES) output.shift();
      }
      for (const listener of listeners) listener(event);
    };
    const result = runBootstrap(target, { ...options, stateDir: this.stateDir, onEvent: deliver }).finally(
      () => this.runs.delete(target.name),
    );
    this.runs.set(target.name, { phases, output, listeners, result });
    return { joined: false, result };
  }

  running(name: string): boolean {
    return this.runs.has(name);
  }

  /** As persisted; `running` only while a run here is under way (else one cut short reads as failed). */
  state(name: string): BootstrapState {
    return readBootstrapState(this.stateDir, name, this.running(name));
  }

  summary(name: string): string {
    return bootstrapSummary(this.state(name));
  }
}
