/**
 * A `docker` entry of substrates.json: one container from an image, on a Docker Engine, with a host
 * directory bind-mounted as its workspace.
 *
 *   {"name":"ctr","type":"docker","image":"tower-box:test","workspace":"~/src/app","network":"none"}
 */
import { z } from 'zod';
import { substrateName } from '../../protocol/index.js';

const absoluteInContainer = z
  .string()
  .regex(/^\/[^\0]*$/, 'must be an absolute path in the container')
  .refine((path) => !path.split('/').includes('..'), 'must not contain ..');

export const DockerConfig = z
  .object({
    name: substrateName,
    type: z.literal('docker'),
    image: z.string().min(1).describe('the image its container is made from (already on the engine)'),
    docker_host: z
      .string()
      .regex(/^(unix|tcp|http|https):\/\/./, 'must be unix:///path, tcp://host:port or http(s)://host:port')
      .optional()
      .describe('the Docker Engine; default $DOCKER_HOST, else unix:///var/run/docker.sock'),
    workspace: z
      .string()
      .min(1)
      .optional()
      .describe("host directory bind-mounted read-write at workdir (`~`: the daemon user's home)"),
    workdir: absoluteInContainer.default('/workspace').describe('where the workspace is in the container'),
    network: z.enum(['none', 'host']).default('none').describe('none: a loopback of its own only'),
    container: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a container name (letters, digits, _ . -)')
      .optional()
      .describe('the container name; default tower-<name>'),
    session_host: z
      .enum(['auto', 'tower', 'tmux'])
      .default('auto')
      .describe(
        "tower: Tower's own session host in the container; tmux: tmux there; auto: tower if node runs",
      ),
  })
  .strict();
export type DockerConfig = z.infer<typeof DockerConfig>;

export function containerName(config: Pick<DockerConfig, 'name' | 'container'>): string {
  return config.container ?? `tower-${config.name}`;
}
