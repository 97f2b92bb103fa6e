/**
 * A session started as a plain program (no runtime) takes queued prompts too, and Tower never types a
 * prompt over what the user typed and did not submit there either: the control plane must hear of keys
 * typed into it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { SCRIPTED_AGENT, waitState } from './support/agents.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';

let daemon: TestDaemon;
let client: TowerClient;

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  client = await daemon.connect();
});

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
});

describe('a prompt to a program with no runtime', () => {
  it('waits while the user has a draft typed into it', async () => {
    const { sessionId: id } = await client.createSession({
      shell: process.execPath,
      args: [SCRIPTED_AGENT],
      cwd: '/tmp',
    });
    await waitState(client, id, 'idle');
    await client.write(id, 'half typed ');
    await waitFor(
      async () => (await client.screen(id)).text.includes('ready> half typed'),
      'the draft echoed',
    );
    const prompt = await client.sendPrompt(id, 'do X');
    expect(prompt.state).toBe('queued');
    expect(prompt.waiting).toMatch(/draft/);
    expect((await client.screen(id)).text).not.toContain('do X');
  }, 30_000);
});
