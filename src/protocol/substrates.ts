/**
 * The substrate half of the socket protocol: where a session's program runs (`local`, or a substrate
 * declared in <state-dir>/substrates.json) and what each can do. socket.ts adds these to its unions.
 */
import { z } from 'zod';
import { BootstrapClientMessages, BootstrapDaemonMessages } from './bootstrap.js';
import { reply, reqId, request, substrateName } from './message.js';

export * from './bootstrap.js';

export { substrateName } from './message.js';

/** The substrate every session runs on unless it names another; always present. */
export const LOCAL_SUBSTRATE = 'local';

export const SubstrateState = z
  .enum(['ready', 'starting', 'sleeping', 'destroying', 'destroyed', 'error', 'unknown'])
  .describe('ready: sessions can start there; error: they cannot (the reason says why)');
export type SubstrateState = z.infer<typeof SubstrateState>;

export const SubstrateCapabilities = z
  .object({
    exec: z.boolean().describe('runs a command to completion, its output bounded'),
    stream_exec: z.boolean().describe('runs a command and streams its output'),
    reattach: z.boolean().describe('a session outlives the daemon and is attached again when it restarts'),
    lifecycle: z.boolean().describe('provision, wake, sleep and destroy mean something'),
    isolated: z
      .boolean()
      .describe(
        "sessions see only their workspace and the system read-only; not the user's home or Tower's state",
      ),
    network: z.boolean().describe('sessions can reach the network'),
  })
  .describe('What a substrate can do.');
export type SubstrateCapabilities = z.infer<typeof SubstrateCapabilities>;

export const SubstrateInfo = z
  .object({
    name: z.string(),
    type: z.string().describe('local, sandbox, or echo (a stand-in for tests that runs nothing)'),
    state: SubstrateState,
    reason: z.string().nullable().describe('why it is in this state, when not ready'),
    capabilities: SubstrateCapabilities,
    remote: z
      .boolean()
      .optional()
      .describe("its programs run on another machine: a session's cwd and `~` are that machine's"),
    detail: z.string().describe('its settings in one line, e.g. "network off"'),
    bootstrap: z
      .string()
      .nullable()
      .describe(
        'for a substrate on a box (ssh, docker): its bootstrap in a few words ("bootstrapped", ' +
          '"bootstrap failed at node", "not bootstrapped"); null for the others',
      ),
  })
  .describe('One substrate in substrate_list.');
export type SubstrateInfo = z.infer<typeof SubstrateInfo>;

export const ListSubstratesRequest = request(
  'list_substrates',
  {},
  'Extension. Reply: substrate_list: `local` and every substrate of substrates.json, with its state.',
);

export const ProbeSubstrateRequest = request(
  'probe_substrate',
  {
    name: z.string(),
    programs: z.array(z.string()).max(64),
    variables: z.array(z.string()).max(64),
    files: z.array(z.string()).max(64).describe('`~/…`: the home directory there'),
    env: z
      .record(z.string(), z.string())
      .describe('the variables the program would be given there (only names and yes or no come back)'),
  },
  "Extension, the control plane's: ask a substrate whose machine the host reaches (ssh, docker) what the " +
    'credential gate needs, over the link the host keeps. Reply: substrate_probe.',
);

export const SubstrateLifecycleAction = z
  .enum(['provision', 'wake', 'sleep', 'destroy'])
  .describe('provision: create its machine; wake: start it; sleep: stop it; destroy: remove it');
export type SubstrateLifecycleAction = z.infer<typeof SubstrateLifecycleAction>;

export const SubstrateLifecycleRequest = request(
  'substrate_lifecycle',
  { name: z.string(), action: SubstrateLifecycleAction },
  'Extension. Provision, wake, sleep or destroy a substrate whose capabilities say lifecycle (a docker ' +
    'container); not_supported elsewhere. Reply: substrate_state, once done, with its state then.',
);

export const HostKeyInfo = z
  .object({
    role: z.enum(['box', 'jump']).describe('the box itself, or the jump host the connection goes through'),
    host: z.string(),
    port: z.number().int(),
    type: z.string().describe('the key type, e.g. ssh-ed25519'),
    fingerprint: z.string().describe('SHA256:…, as ssh-keygen -l prints it'),
    status: z
      .enum(['known', 'trusted', 'unknown'])
      .describe('known: already in known_hosts; trusted: added by this request; unknown: not confirmed yet'),
  })
  .describe('A host key an ssh substrate presented, in trust_substrate.');
export type HostKeyInfo = z.infer<typeof HostKeyInfo>;

export const TrustSubstrateRequest = request(
  'trust_substrate',
  {
    name: substrateName,
    fingerprints: z
      .array(z.string().max(100))
      .max(8)
      .default([])
      .describe(
        'the fingerprints the user confirmed; a presented key with one of these is added to known_hosts',
      ),
  },
  'Extension. Reply: substrate_host_keys. Connects to an ssh substrate and reads the host key of each hop ' +
    '(the jump host, then the box), stopping at the first unknown one; keys whose fingerprints are given are ' +
    'added to known_hosts. A key that contradicts a known one is an error, never replaced.',
);

export const SubstrateClientMessages = [
  ListSubstratesRequest,
  ProbeSubstrateRequest,
  SubstrateLifecycleRequest,
  TrustSubstrateRequest,
  ...BootstrapClientMessages,
] as const;

export const SubstrateDaemonMessages = [
  reply(
    'substrate_list',
    {
      substrates: z.array(SubstrateInfo),
      config_error: z
        .string()
        .nullable()
        .describe('what is wrong in substrates.json (its entries that are right are listed all the same)'),
      req_id: reqId,
    },
    'Extension: answer to list_substrates.',
  ),
  reply(
    'substrate_probe',
    {
      home: z.string(),
      programs: z.record(z.string(), z.string().nullable()).describe("each program's path there, or null"),
      variables: z.record(z.string(), z.boolean()),
      files: z.record(z.string(), z.boolean()),
      req_id: reqId,
    },
    'Extension: answer to probe_substrate.',
  ),
  ...BootstrapDaemonMessages,
  reply(
    'substrate_state',
    {
      name: z.string(),
      state: SubstrateState,
      reason: z.string().nullable().describe('why it is in this state, when not ready'),
      req_id: reqId,
    },
    'Extension: answer to substrate_lifecycle.',
  ),
  reply(
    'substrate_host_keys',
    {
      keys: z.array(HostKeyInfo),
      file: z.string().describe('the known_hosts file trusted keys are added to'),
      req_id: reqId,
    },
    'Extension: answer to trust_substrate.',
  ),
] as const;

export const SubstrateErrorCodes = ['unknown_substrate', 'substrate_unavailable', 'not_supported'] as const;
