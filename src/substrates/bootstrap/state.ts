/**
 * A substrate's bootstrap as persisted after each phase: <state-dir>/bootstrap/<substrate>.json (0600, in
 * a 0700 directory), written whole to a temporary file and renamed, so a crash leaves the last phase's.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOTSTRAP_PHASES, type BootstrapPhase, BootstrapState } from '../../protocol/index.js';

export function bootstrapDir(stateDir: string): string {
  return join(stateDir, 'bootstrap');
}

export function bootstrapStatePath(stateDir: string, substrate: string): string {
  return join(bootstrapDir(stateDir), `${substrate}.json`);
}

export function pendingPhase(name: string, kind: BootstrapPhase['kind']): BootstrapPhase {
  return {
    name,
    kind,
    state: 'pending',
    message: null,
    error: null,
    warnings: [],
    finished_at: null,
    elapsed_ms: null,
    output_tail: [],
  };
}

export function neverBootstrapped(substrate: string): BootstrapState {
  return {
    substrate,
    outcome: 'never',
    summary: 'not bootstrapped',
    session_host: null,
    phases: BOOTSTRAP_PHASES.map((name) => pendingPhase(name, 'core')),
    facts: {},
    warnings: [],
    updated_at: null,
  };
}

/**
 * As persisted; a run that was under way when its process ended reads as failed at the phase it was in
 * (`running` is only true while a live run says so, and the caller knows that).
 */
export function readBootstrapState(stateDir: string, substrate: string, live = false): BootstrapState {
  let text: string;
  try {
    text = readFileSync(bootstrapStatePath(stateDir, substrate), 'utf8');
  } catch {
    return neverBootstrapped(substrate);
  }
  let parsed: ReturnType<typeof BootstrapState.safeParse>;
  try {
    parsed = BootstrapState.safeParse(JSON.parse(text));
  } catch {
    return neverBootstrapped(substrate);
  }
  if (!parsed.success) return neverBootstrapped(substrate);
  const state = parsed.data;
  if (state.outcome !== 'running' || live) return state;
  const phases = state.phases.map((phase) =>
    phase.state === 'running' ? { ...phase, state: 'failed' as const, error: 'interrupted' } : phase,
  );
  const at = phases.find((phase) => phase.state === 'failed')?.name ?? 'the start';
  return { ...state, phases, outcome: 'failed', summary: `interrupted at ${at}` };
}

export function writeBootstrapState(stateDir: string, state: BootstrapState): void {
  const dir = bootstrapDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = bootstrapStatePath(stateDir, state.substrate);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/** For `tower substrates`: "bootstrapped", "bootstrapped (with warnings)", "bootstrap failed at node", … */
export function bootstrapSummary(state: BootstrapState): string {
  switch (state.outcome) {
    case 'never':
      return 'not bootstrapped';
    case 'running':
      return `bootstrapping: ${state.phases.find((phase) => phase.state === 'running')?.name ?? 'starting'}`;
    case 'ready':
      return 'bootstrapped';
    case 'warnings':
      return 'bootstrapped (with warnings)';
    case 'failed': {
      const failed = state.phases.find((phase) => phase.state === 'failed');
      return failed ? `bootstrap failed at ${failed.name}` : `bootstrap failed: ${state.summary}`;
    }
  }
}

/**
 * The argv that runs the Tower bootstrap put on the box (its node, then bin/tower.js there), for the
 * box's session host (box-host/link.ts `tower`); null until the `tower` phase is done.
 */
export function towerOnBox(stateDir: string, substrate: string): string[] | null {
  const state = readBootstrapState(stateDir, substrate, true);
  const done = state.phases.some((phase) => phase.name === 'tower' && phase.state === 'done');
  const { node, tower } = state.facts;
  return done && node && tower ? [node, tower] : null;
}
