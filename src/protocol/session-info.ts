/**
 * A session as the daemon describes it (session_list, session_event, and the web API): the agor-pty
 * fields, then Tower's extensions (agent status, journal state, where it runs, its link).
 */
import { z } from 'zod';
import { AgentStatus } from './agents.js';
import { OUTPUT_GAP_REASONS } from './names.js';

const offset = z.number().int().min(0);

export const SessionStatus = z.enum(['running', 'exited', 'lost']);
export type SessionStatus = z.infer<typeof SessionStatus>;

export const OutputGap = z
  .object({
    from: offset,
    to: offset,
    reason: z
      .enum(OUTPUT_GAP_REASONS)
      .describe(
        'not_saved: the disk refused it (readable while still in memory); damaged: fails its checksum; ' +
          'unreadable: the file cannot be read',
      ),
  })
  .describe('Output in [from, to) that is not on disk, or not readable there.');
export type OutputGap = z.infer<typeof OutputGap>;

export const JournalState = z
  .object({
    error: z
      .string()
      .nullable()
      .describe(
        'why output is not being saved to disk right now (kept in memory meanwhile); null while it is',
      ),
    gaps: z
      .array(OutputGap)
      .describe('output not on disk or not readable there, oldest first (the newest 16)'),
  })
  .describe("The state of a session's output on disk.");

export const SessionLink = z
  .object({
    state: z
      .enum(['connected', 'disconnected', 'lost'])
      .describe(
        'disconnected: the link dropped, the program runs on there and its output is caught up when it is ' +
          'back; lost: the machine or its copy of the session is gone',
      ),
    reason: z.string().nullable().describe('why, when not connected'),
    since: z.string().describe('ISO 8601'),
  })
  .describe('The link to a session on another machine.');

export const SessionInfo = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    shell: z.string().describe("the program (agor-pty's field name)"),
    args: z.array(z.string()),
    cwd: z.string(),
    cols: z.number().int(),
    rows: z.number().int(),
    pid: z.number().int().nullable(),
    status: SessionStatus.describe('lost: the daemon died while it ran; its output stays readable'),
    exit_code: z.number().int().nullable(),
    exit_signal: z.number().int().nullable(),
    created_at: z.string().describe('ISO 8601'),
    exited_at: z.string().nullable(),
    first_offset: offset.describe('earliest retained output offset'),
    last_offset: offset.describe('offset one past the last output byte'),
    runtime: z.string().nullable().describe('extension: the agent runtime; null for a plain command'),
    agent: AgentStatus.describe('extension: what the agent is doing'),
    resumed_from: z.string().nullable().describe('extension: the session this one was restarted from'),
    queued_prompts: z.number().int().describe('extension: prompts waiting for the agent'),
    journal: JournalState.describe('extension: whether output is being saved, and what is missing'),
    substrate: z.string().describe('extension: where it runs (local, or a substrate of substrates.json)'),
    link: SessionLink.nullable().describe(
      'extension: for a session on another machine (ssh, docker), the link to it; null for local ones',
    ),
  })
  .describe('One session in session_list and session_event.');
export type SessionInfo = z.infer<typeof SessionInfo>;
