/**
 * The Docker Engine the docker tests use: started by scripts/test-dockerd.sh (run by npm test's setup)
 * with a socket of its own, and its two images made from this machine's files. Without it the docker
 * tests skip, or fail under TOWER_TEST_STRICT=1.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const STRICT = process.env.TOWER_TEST_STRICT === '1';
const ENV_FILE = '/run/tower-test/env';

export interface TestDockerd {
  /** unix:///… of the test engine (never the machine's default one). */
  dockerHost: string;
  /** /bin/sh, bash, coreutils, tmux and node. */
  image: string;
  /** The same without node: the tmux fallback. */
  imageNoNode: string;
}

function findDockerd(): TestDockerd | null {
  let text: string;
  try {
    text = readFileSync(ENV_FILE, 'utf8');
  } catch {
    return null;
  }
  const values = Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const found = {
    dockerHost: values.DOCKER_HOST ?? '',
    image: values.TOWER_TEST_IMAGE ?? '',
    imageNoNode: values.TOWER_TEST_IMAGE_NO_NODE ?? '',
  };
  const answers = spawnSync('docker', ['image', 'inspect', found.image, found.imageNoNode], {
    env: { ...process.env, DOCKER_HOST: found.dockerHost },
    stdio: 'ignore',
    timeout: 10_000,
  });
  return answers.status === 0 ? found : null;
}

/** The test engine, or null when it is not running here. */
export const DOCKERD = findDockerd();

if (!DOCKERD && !STRICT) {
  process.stderr.write(
    'docker tests skipped: the test engine is not running (bash scripts/test-dockerd.sh)\n',
  );
}

/** Under TOWER_TEST_STRICT=1 a missing engine fails the suite instead of skipping it. */
export function failWithoutDockerd(suite: string): void {
  describe.runIf(!DOCKERD && STRICT)(`${suite} (strict mode)`, () => {
    it('needs the test Docker Engine', () => {
      throw new Error(
        `the test Docker Engine is not running: bash scripts/test-dockerd.sh (npm test's setup runs it; its log: /var/log/tower-test-dockerd.log)`,
      );
    });
  });
}

/** The docker CLI against the test engine (what a user would do from outside Tower). */
export function dockerCli(...args: string[]): string {
  const run = spawnSync('docker', args, {
    env: { ...process.env, DOCKER_HOST: DOCKERD?.dockerHost },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (run.status !== 0) throw new Error(`docker ${args.join(' ')}: ${run.stderr || run.error?.message}`);
  return run.stdout;
}

/** Stops the test engine and starts it again (its containers live on: it runs with --live-restore). */
export async function restartDockerd(): Promise<void> {
  const pid = Number(readFileSync('/run/tower-test/dockerd.pid', 'utf8'));
  process.kill(pid, 'SIGTERM');
  const started = Date.now();
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    if (Date.now() - started > 20_000) throw new Error('the test engine did not stop in 20 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await promisify(execFile)('bash', ['scripts/test-dockerd.sh'], { timeout: 60_000 });
}
