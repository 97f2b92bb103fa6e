/**
 * Time as the agents layer reads it: the system's by default. Tests give the status tracker, the prompt
 * queue and the supervisor a clock they move by hand, so quiet times and retries are exact and instant.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';

/** A pending callback: cleared with the clock that set it; unref'd, it keeps no process alive. */
export interface ClockTimer {
  unref(): unknown;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  sleep: (ms) => sleepFor(ms),
};
