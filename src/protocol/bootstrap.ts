/**
 * Preparing a remote box (ssh, docker) in named, resumable phases: the socket messages, and the state
 * persisted after each phase (<state-dir>/bootstrap/<substrate>.json) that `tower substrates`, the API
 * and the web show.
 */
import { z } from 'zod';
import { reply, reqId, request, substrateName } from './message.js';

export const BOOTSTRAP_PHASES = ['check', 'packages', 'node', 'tower', 'agent', 'config'] as const;

export const PhaseState = z
  .enum(['pending', 'running', 'done', 'failed', 'skipped'])
  .describe('skipped: not needed here (tmux when Tower runs, Node when the box uses tmux)');
export type PhaseState = z.infer<typeof PhaseState>;

export const SessionHostChoice = z
  .enum(['auto', 'tower', 'tmux'])
  .describe("auto: Tower's session host where Node can run it, else tmux");
export type SessionHostChoice = z.infer<typeof SessionHostChoice>;

export const BootstrapPhase = z
  .object({
    name: z.string().describe(`one of ${BOOTSTRAP_PHASES.join(', ')}, in that order`),
    kind: z.enum(['core', 'best-effort']).describe('a best-effort phase may fail without failing the run'),
    state: PhaseState,
    message: z.string().nullable().describe('what it found or did, in one line'),
    error: z.string().nullable().describe('why it failed'),
    warnings: z.array(z.string()).describe('what to fix that did not fail it (a missing credential)'),
    finished_at: z.string().nullable().describe('ISO 8601'),
    elapsed_ms: z.number().nullable(),
    output_tail: z.array(z.string()).describe("the last lines of its output (all of it is in the box's log)"),
  })
  .describe('One phase of a bootstrap.');
export type BootstrapPhase = z.infer<typeof BootstrapPhase>;

export const BootstrapOutcome = z
  .enum(['never', 'running', 'ready', 'warnings', 'failed'])
  .describe('warnings: ready, but a best-effort phase failed or a credential is missing');
export type BootstrapOutcome = z.infer<typeof BootstrapOutcome>;

export const BootstrapState = z
  .object({
    substrate: z.string(),
    outcome: BootstrapOutcome,
    summary: z.string().describe('e.g. "ready (with warnings)", "failed at node: …"'),
    session_host: z
      .enum(['tower', 'tmux'])
      .nullable()
      .describe('what keeps sessions on the box, as bootstrapped; null: nothing yet'),
    phases: z.array(BootstrapPhase),
    facts: z
      .record(z.string(), z.string())
      .describe('what the phases found: os, arch, uid, home, free_kib, package_manager, node, tower, …'),
    warnings: z.array(z.string()),
    updated_at: z.string().nullable(),
  })
  .describe("A substrate's bootstrap, as persisted after each phase.");
export type BootstrapState = z.infer<typeof BootstrapState>;

export const BootstrapEvent = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('phase'),
      name: z.string(),
      state: PhaseState,
      message: z.string().optional(),
      elapsed_ms: z.number().optional(),
      kind: z.enum(['core', 'best-effort']),
    }),
    z.object({
      type: z.literal('output'),
      phase: z.string(),
      line: z.string().describe('one line of output, at most 400 characters, as the box wrote it'),
    }),
  ])
  .describe('A phase changed state, or wrote a line.');
export type BootstrapEvent = z.infer<typeof BootstrapEvent>;

/** What the credential gate and the agent phase look for on the box, for one runtime. */
export const RuntimeNeed = z
  .object({
    name: z.string().max(64),
    command: z.string().min(1).max(256),
    install: z.string().max(1000).nullable(),
    env: z.array(z.string().max(256)).max(32).describe('credential variables (any of them will do)'),
    files: z.array(z.string().max(1024)).max(32).describe('credential files, `~/…`: the box home'),
  })
  .describe("A runtime's program and credential sources, resolved by the control plane.");
export type RuntimeNeed = z.infer<typeof RuntimeNeed>;

export const BootstrapClientMessages = [
  request(
    'bootstrap_substrate',
    {
      name: substrateName,
      force: z.boolean().optional().describe('run the phases that are done again'),
      runtimes: z
        .array(z.string().max(64))
        .max(16)
        .optional()
        .describe(
          'the agent runtimes the box should run (claude, codex, …): the control plane resolves them',
        ),
      needs: z
        .array(RuntimeNeed)
        .max(16)
        .optional()
        .describe('the runtimes resolved (sent by the control plane; a client names runtimes instead)'),
    },
    'Extension. Prepare a remote substrate in phases (check, packages, node, tower, agent, config). Reply: ' +
      'bootstrap_event messages as it goes, then bootstrap_result. A second request while one runs for the ' +
      'same substrate joins it (joined: true). not_supported on substrates without a box.',
  ),
  request(
    'bootstrap_state',
    { name: substrateName },
    "Extension. Reply: bootstrap_status: the substrate's phases as persisted.",
  ),
] as const;

export const BootstrapDaemonMessages = [
  reply(
    'bootstrap_event',
    { name: z.string(), event: BootstrapEvent, req_id: reqId },
    'Extension: a step of a bootstrap_substrate under way (carries its req_id; not its answer).',
  ),
  reply(
    'bootstrap_result',
    {
      name: z.string(),
      state: BootstrapState,
      joined: z.boolean().describe('this request joined a bootstrap already under way'),
      req_id: reqId,
    },
    'Extension: answer to bootstrap_substrate, once every phase has run or one that matters failed.',
  ),
  reply(
    'bootstrap_status',
    { name: z.string(), state: BootstrapState, req_id: reqId },
    'Extension: answer to bootstrap_state (outcome `never` when it was never bootstrapped).',
  ),
] as const;
