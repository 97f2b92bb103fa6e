/**
 * <state-dir>/substrates.json: the substrates besides `local`. Each entry is checked on its own, so a
 * bad one is reported (naming the file and the field) while the others, and `local`, stay usable.
 *
 *   { "substrates": [ { "name": "box", "type": "sandbox", "network": false } ] }
 *
 * Types `echo` (runs nothing) and `loopback` (this machine as a remote box) are for tests, present
 * only when declared.
 */
import { z } from 'zod';
import { LOCAL_SUBSTRATE, SessionHostChoice, substrateName } from '../protocol/index.js';
import { describeIssues } from '../protocol/validation.js';
import { DockerConfig } from './docker/config.js';
import { SshConfig } from './ssh/config.js';

export const SUBSTRATES_FILE = 'substrates.json';

export const SandboxConfig = z
  .object({
    name: substrateName,
    type: z.literal('sandbox'),
    network: z.boolean().default(true).describe('false: no network at all (a loopback of its own only)'),
    expose: z
      .array(z.string().min(1))
      .default([])
      .describe("host paths shown read-only besides the system, e.g. ~/.nvm (`~`: the daemon user's home)"),
  })
  .strict();

/** A test stand-in that runs nothing (see echo/index.ts); never present unless declared. */
export const EchoConfig = z
  .object({
    name: substrateName,
    type: z.literal('echo'),
    box: z
      .boolean()
      .default(false)
      .describe('true: this machine stands in for a box, so that bootstrap can be tried on it (tests)'),
    session_host: SessionHostChoice.default('auto'),
  })
  .strict();

/** A test stand-in: this machine as a remote box (see loopback/index.ts); never present unless declared. */
export const LoopbackConfig = z
  .object({
    name: substrateName,
    type: z.literal('loopback'),
    state_dir: z.string().min(1).describe("the state dir of the box's own session host (absolute)"),
  })
  .strict();
export type LoopbackConfig = z.infer<typeof LoopbackConfig>;

export const SubstrateConfig = z.discriminatedUnion('type', [
  SandboxConfig,
  EchoConfig,
  DockerConfig,
  SshConfig,
  LoopbackConfig,
]);
export type SubstrateConfig = z.infer<typeof SubstrateConfig>;

const SubstratesFile = z.object({ substrates: z.array(z.unknown()) }).strict();

/** The entries that are right, and one message for all that are not (null when none). */
export function parseSubstratesFile(
  text: string,
  file = SUBSTRATES_FILE,
): { substrates: SubstrateConfig[]; error: string | null } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { substrates: [], error: `${file}: not valid JSON: ${(error as Error).message}` };
  }
  const top = SubstratesFile.safeParse(raw);
  if (!top.success) return { substrates: [], error: `${file}: ${describeIssues(top.error, '(top level)')}` };
  const substrates: SubstrateConfig[] = [];
  const problems: string[] = [];
  const names = new Set<string>([LOCAL_SUBSTRATE]);
  top.data.substrates.forEach((entry, index) => {
    const parsed = SubstrateConfig.safeParse(entry);
    if (!parsed.success) {
      const prefixed = describeIssues(parsed.error, '(entry)').replace(/(^|; )/g, `$1substrates.${index}.`);
      problems.push(prefixed.replaceAll(`substrates.${index}.(entry)`, `substrates.${index}`));
      return;
    }
    const { name } = parsed.data;
    if (names.has(name)) {
      problems.push(
        `substrates.${index}.name: ${name === LOCAL_SUBSTRATE ? '"local" is built in' : `"${name}" is declared twice`}`,
      );
      return;
    }
    names.add(name);
    substrates.push(parsed.data);
  });
  return { substrates, error: problems.length > 0 ? `${file}: ${problems.join('; ')}` : null };
}
