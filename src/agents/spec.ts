/**
 * What a runtime is, as data. Built-in runtimes (one file each in runtimes/) and custom ones from
 * <state-dir>/runtimes.json share this shape; custom ones are validated with errors that name the field.
 */
import { z } from 'zod';
import { type AgentState, AnswerKeys } from '../protocol/index.js';

const regex = z.string().refine(
  (source) => {
    try {
      new RegExp(source, 'm');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a valid regular expression' },
);

export const CredentialSource = z.union([
  z.object({ env: z.string().min(1).describe('an environment variable that must be set') }).strict(),
  z.object({ file: z.string().min(1).describe('a file that must exist; ~ is the home directory') }).strict(),
]);
export type CredentialSource = z.infer<typeof CredentialSource>;

export const RuntimeSpec = z
  .object({
    description: z.string().default(''),
    command: z.string().min(1).describe('executable name (looked up in PATH) or path'),
    args: z.array(z.string()).default([]).describe('default arguments'),
    install: z.string().default('').describe('how to install it, shown when it is missing'),
    credentials: z
      .object({
        any_of: z.array(CredentialSource).min(1),
        fix: z.string().describe('how to provide one, shown when none is there'),
      })
      .strict()
      .optional()
      .describe('what gives it a model upstream; absent: needs nothing'),
    prompt: z
      .object({
        paste: z.enum(['bracketed', 'typed']).default('bracketed'),
        submit: z.string().default('\r').describe('the key that submits, e.g. "\\r"'),
        submit_delay_ms: z.number().int().min(0).max(5000).default(150),
        input_line: z
          .array(regex)
          .default([])
          .describe(
            'screen patterns of the input line; group 1 is the text it holds; the last match on screen counts',
          ),
        placeholder: z
          .array(regex)
          .default([])
          .describe('what an empty input line shows in place of text (tested against group 1 of input_line)'),
        draft_wait_ms: z
          .number()
          .int()
          .min(1000)
          .max(3_600_000)
          .default(120_000)
          .describe("how long a prompt waits for the user's unsent draft to be submitted or cleared"),
      })
      .strict()
      .prefault({}),
    status: z
      .object({
        needs_input: z.array(regex).default([]).describe('screen patterns of an approval or question'),
        busy: z.array(regex).default([]).describe('screen patterns shown while it works'),
        idle: z.array(regex).default([]).describe('screen patterns of a prompt waiting for input'),
        answer: z
          .array(regex)
          .default([])
          .describe("screen patterns of the agent's answer lines (group 1, if any, is the excerpt)"),
        ask: z
          .array(regex)
          .default([])
          .describe(
            "screen patterns naming what a dialog asks (its groups, joined by ': ', are the excerpt)",
          ),
        quiet_ms: z
          .number()
          .int()
          .min(100)
          .max(60_000)
          .default(1500)
          .describe('no output this long: not busy'),
      })
      .strict()
      .prefault({}),
    resume_args: z
      .array(z.string())
      .optional()
      .describe('put before the other arguments to continue the last conversation'),
    answers: AnswerKeys.optional().describe('the keys that answer its approval dialog'),
  })
  .strict();
export type RuntimeSpec = z.infer<typeof RuntimeSpec>;
export type RuntimeSpecInput = z.input<typeof RuntimeSpec>;

/** A program with no runtime: the schema's defaults (no patterns; quiet output alone says idle). */
const PLAIN = RuntimeSpec.parse({ command: 'plain' });
export const PLAIN_STATUS = PLAIN.status;
export const PLAIN_PROMPT = PLAIN.prompt;

export const RuntimesFile = z
  .object({ runtimes: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), RuntimeSpec) })
  .strict();

/** A status signal from inside the agent (its hooks or notify program), as the runtime reads it. */
export interface SignalReading {
  state: AgentState;
  reason: string;
  /** One line for an attention event, e.g. the last answer. */
  excerpt?: string;
  /** Applies only when the session is in one of these states. */
  from?: AgentState[];
}

export interface LaunchContext {
  sessionId: string;
  cwd: string;
  stateDir: string;
  /** argv that runs this Tower's `tower hook` (node, the CLI script, --state-dir …), for local sessions. */
  hookCommand: string[];
  env: Record<string, string>;
  /**
   * It runs on another machine (the substrate is remote): its arguments and hooks may name no local
   * path, and hooks reach `tower hook` through $TOWER_HOOK, which the box's session host sets.
   */
  remote: boolean;
}

export interface Launch {
  args: string[];
  env: Record<string, string>;
  /** Files Tower wrote that the program reads (shown read-only where a substrate hides the rest). */
  files?: string[];
}

export interface AgentRuntime {
  name: string;
  spec: RuntimeSpec;
  custom: boolean;
  /** How status is known, for `tower agents` and the docs. */
  statusChannel: 'hooks' | 'notify+osc' | 'process' | 'screen';
  /** Extra arguments and environment that wire its hooks to Tower. */
  launch?(context: LaunchContext): Launch;
  /** Reads an OSC sequence the program wrote (code and payload); null when it says nothing about status. */
  readOsc?(code: number, payload: string): SignalReading | null;
  /** Reads one hook or notify call; null when it says nothing about status. */
  readSignal?(event: string, payload: Record<string, unknown>): SignalReading | null;
  /** Credential sources the data form cannot express (e.g. a provider in a config file). */
  extraUpstream?(env: Record<string, string>, home: string): string | null;
}

export function defineRuntime(
  name: string,
  spec: RuntimeSpecInput,
  extra: Omit<AgentRuntime, 'name' | 'spec' | 'custom'>,
): AgentRuntime {
  return { name, spec: RuntimeSpec.parse(spec), custom: false, ...extra };
}
