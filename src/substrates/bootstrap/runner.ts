/**
 * Runs a box's bootstrap phases in order, persisting the state after each, so a rerun skips what is
 * done (unless forced) and resumes what failed or was cut short. A core phase that fails ends the run;
 * a best-effort one is marked failed and the run goes on (ready, with warnings).
 */
import type {
  BootstrapEvent,
  BootstrapPhase,
  BootstrapState,
  RuntimeNeed,
  SessionHostChoice,
} from '../../protocol/index.js';
import type { Box } from '../box/types.js';
import type { Bundle } from './bundle.js';
import { type BootstrapPlan, bootstrapPlan, type PhaseContext } from './phases.js';
import { PhaseShell } from './shell.js';
import { pendingPhase, readBootstrapState, writeBootstrapState } from './state.js';

export interface BootstrapTarget {
  /** The substrate's name. */
  name: string;
  box: Box;
  sessionHost: SessionHostChoice;
  workdir?: string;
}

export interface BootstrapOptions {
  stateDir: string;
  /** Run the phases that are done again. */
  force?: boolean;
  needs?: RuntimeNeed[];
  /** Added to every program's environment on the box. */
  env?: Record<string, string>;
  onEvent?: (event: BootstrapEvent) => void;
  /** Other phases than the box's (tests). */
  plan?: BootstrapPlan;
  bundle?: () => Promise<Bundle>;
}

export async function runBootstrap(
  target: BootstrapTarget,
  options: BootstrapOptions,
): Promise<BootstrapState> {
  const { phases, settle } = options.plan ?? bootstrapPlan(target.sessionHost);
  const emit = options.onEvent ?? (() => {});
  const before = readBootstrapState(options.stateDir, target.name);
  const reuse = (name: string) =>
    options.force ? undefined : before.phases.find((old) => old.name === name && old.state === 'done');
  const state: BootstrapState = {
    substrate: target.name,
    outcome: 'running',
    summary: 'bootstrapping',
    session_host: null,
    phases: phases.map((phase) => {
      const done = reuse(phase.name);
      return done ? { ...done, kind: phase.kind } : pendingPhase(phase.name, phase.kind);
    }),
    facts: options.force ? {} : { ...before.facts },
    warnings: [],
    updated_at: null,
  };
  const save = () => {
    state.updated_at = new Date().toISOString();
    writeBootstrapState(options.stateDir, state);
  };
  save();
  const env = options.env ?? {};
  // Loaded when a box needs it: a box's own Tower has no tar-stream.
  const bundle =
    options.bundle ?? (() => import('./bundle.js').then(({ towerBundle }) => towerBundle(options.stateDir)));
  let failedCore: BootstrapPhase | null = null;
  for (const [index, phase] of phases.entries()) {
    const record = state.phases[index]!;
    if (record.state === 'done') {
      const message = `${record.message ?? 'done'} (done before)`;
      emit({ type: 'phase', name: phase.name, kind: phase.kind, state: 'done', message });
      continue;
    }
    const warnings: string[] = [];
    const shell = new PhaseShell(target.box, phase.name, env, (line) =>
      emit({ type: 'output', phase: phase.name, line }),
    );
    const ctx: PhaseContext = {
      box: target.box,
      facts: state.facts,
      needs: options.needs ?? [],
      workdir: target.workdir,
      env,
      sh: (script, shellOptions) => shell.run(script, shellOptions),
      emit,
      warn: (message) => warnings.push(message),
      bundle,
    };
    Object.assign(record, {
      state: 'running',
      message: null,
      error: null,
      finished_at: null,
      elapsed_ms: null,
    });
    save();
    emit({ type: 'phase', name: phase.name, kind: phase.kind, state: 'running' });
    const started = Date.now();
    try {
      const result = await phase.run(ctx);
      const skipped = typeof result !== 'string';
      record.state = skipped ? 'skipped' : 'done';
      record.message = skipped ? result.skipped : result;
    } catch (error) {
      record.state = 'failed';
      record.error = (error as Error).message;
    }
    record.warnings = warnings;
    record.finished_at = new Date().toISOString();
    record.elapsed_ms = Date.now() - started;
    record.output_tail = shell.tail;
    state.session_host = sessionHostOf(state);
    save();
    emit({
      type: 'phase',
      name: phase.name,
      kind: phase.kind,
      state: record.state,
      message: record.error ?? record.message ?? undefined,
      elapsed_ms: record.elapsed_ms,
    });
    if (record.state === 'failed' && phase.kind === 'core') {
      failedCore = record;
      break;
    }
  }
  state.session_host = sessionHostOf(state);
  state.warnings = state.phases.flatMap((phase) => [
    ...phase.warnings,
    ...(phase.state === 'failed' && phase.kind === 'best-effort' ? [`${phase.name}: ${phase.error}`] : []),
  ]);
  const unsettled = failedCore ? null : settle(state);
  if (failedCore) {
    state.outcome = 'failed';
    state.summary = `failed at ${failedCore.name}: ${failedCore.error}`;
  } else if (unsettled) {
    state.outcome = 'failed';
    state.summary = `failed: ${unsettled}`;
  } else {
    state.outcome = state.warnings.length > 0 ? 'warnings' : 'ready';
    state.summary = state.warnings.length > 0 ? 'ready (with warnings)' : 'ready';
  }
  save();
  return state;
}

/** Tower's session host where its phase is done, else tmux where it was found, else nothing yet. */
function sessionHostOf(state: BootstrapState): BootstrapState['session_host'] {
  if (state.phases.some((phase) => phase.name === 'tower' && phase.state === 'done')) return 'tower';
  if (state.facts.tmux) return 'tmux';
  return null;
}
