/**
 * A substrates.json entry of type `ssh`: a box Tower reaches over one SSH connection.
 *
 *   {"name":"devbox","type":"ssh","host":"10.0.0.5","port":22,"user":"dev","identity":"~/.ssh/id_ed25519",
 *    "jump":{"host":"bastion.example","user":"dev"}}
 *
 * Paths may start with `~` (the daemon user's home). With neither `identity` nor `agent`, the agent of
 * $SSH_AUTH_SOCK is used when the daemon has one.
 */
import { z } from 'zod';
import { SessionHostChoice, substrateName } from '../../protocol/index.js';

const hostName = z
  .string()
  .min(1)
  .regex(/^[^\s\-@][^\s@]*$/, 'a host name or address: no spaces, no "@", not starting with "-"');
const port = z.number().int().min(1).max(65535);
const userName = z
  .string()
  .min(1)
  .regex(/^[^\s\-@:][^\s@:]*$/, 'a user name: no spaces, "@" or ":", not starting with "-"');
const path = z.string().min(1);

export const SshJumpConfig = z
  .object({
    host: hostName,
    port: port.default(22),
    user: userName.optional().describe("default: the box's user"),
    identity: path.optional().describe("default: the box's identity"),
  })
  .strict()
  .describe('a host the connection goes through (as ssh -J)');

export const SshConfig = z
  .object({
    name: substrateName,
    type: z.literal('ssh'),
    host: hostName,
    port: port.default(22),
    user: userName,
    identity: path.optional().describe("a private key file without passphrase (`~`: the daemon user's home)"),
    agent: z.boolean().optional().describe('use the ssh-agent of $SSH_AUTH_SOCK; default: when it is set'),
    known_hosts: path
      .optional()
      .describe(
        'the known_hosts file to check against; default <state-dir>/known_hosts then ~/.ssh/known_hosts',
      ),
    jump: SshJumpConfig.optional(),
    keepalive_ms: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(1000)
      .describe('a dead link is noticed after about 4 of these'),
    session_host: SessionHostChoice.default('auto'),
    state_dir: z
      .string()
      .regex(/^[^\0\n]+$/)
      .optional()
      .describe(
        "the state dir of Tower's session host on the box (relative: to the user's home); default .tower/box",
      ),
  })
  .strict();
export type SshConfig = z.infer<typeof SshConfig>;
