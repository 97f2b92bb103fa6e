/**
 * The real agent CLIs (Claude Code, Codex, Gemini CLI, OpenCode from the npm registry, pinned by
 * scripts/install-agents.sh) in real PTYs under the real daemon, talking to a local fake model server:
 * spawn, idle, prompt, busy then idle, the answer on screen; a tool call that needs approval shows
 * needs_input and approval moves it on; the credential gate blocks a runtime with no upstream; restart
 * resumes the conversation; and status accuracy over scripted turns (TOWER_AGENT_TURNS, default 10).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TowerClient } from '../dist/client/client.js';
import { recordEvents, sessionInfo, waitState } from './support/agents.js';
import { startTestDaemon, type TestDaemon, waitFor } from './support/daemon.js';
import { type FakeModel, startFakeModel } from './support/fake-model.js';
import {
  installed,
  REAL_RUNTIMES,
  type RealRuntime,
  STRICT,
  scriptedTurn,
  type TurnResult,
} from './support/real-agents.js';

const TURNS = Number(process.env.TOWER_AGENT_TURNS ?? 10);
const RUNTIMES = Object.keys(REAL_RUNTIMES) as RealRuntime[];

let model: FakeModel;
let daemon: TestDaemon;
let client: TowerClient;
let events: Awaited<ReturnType<typeof recordEvents>>;

beforeAll(async () => {
  model = await startFakeModel();
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
  client = await daemon.connect();
  events = await recordEvents(client);
});

/** Every project dir and HOME of these tests, removed afterwards. */
const scratch = mkdtempSync(join(tmpdir(), 'tower-agents-real-'));

afterAll(async () => {
  client?.end();
  await daemon?.dispose();
  await model?.close();
  rmSync(scratch, { recursive: true, force: true });
});

for (const runtime of RUNTIMES) {
  describe.runIf(!installed(runtime) && STRICT)(`${runtime} (strict mode)`, () => {
    it('is installed', () => {
      throw new Error(`${runtime} is not installed: scripts/install-agents.sh (run by npm test) installs it`);
    });
  });

  describe.runIf(installed(runtime))(`${runtime}, the real CLI`, () => {
    const cwd = join(scratch, `project-${runtime}`);
    mkdirSync(cwd);
    let env: Record<string, string>;
    let id: string;

    beforeAll(() => {
      env = REAL_RUNTIMES[runtime].home(model.url, { trust: [cwd], parent: scratch }).env;
    });

    it('spawns, goes idle, answers a prompt (busy → idle) on screen, with a turn_finished excerpt', async () => {
      ({ sessionId: id } = await client.createSession({ runtime, cwd, env, cols: 100, rows: 30 }));
      const ready = await waitState(client, id, 'idle', 45_000);
      expect(ready.runtime).toBe(runtime);
      const result = await scriptedTurn(client, events, id, runtime, {
        kind: 'say',
        word: 'hello from tower',
        file: '',
      });
      expect(result.problem).toBeNull();
      const finished = events.attention.filter((e) => e.session_id === id && e.kind === 'turn_finished');
      expect(finished[0]!.excerpt).toContain('hello from tower');
    });

    it('shows needs_input for a command that needs approval; approving runs it and the turn ends', async () => {
      const result = await scriptedTurn(client, events, id, runtime, {
        kind: 'run',
        word: '',
        file: join(cwd, 'approved-file'),
      });
      expect(result.problem).toBeNull();
      const needs = events.attention.find((e) => e.session_id === id && e.kind === 'needs_input')!;
      expect(needs.excerpt.length).toBeGreaterThan(0);
    });

    it(
      `keeps an accurate status over ${TURNS} scripted turns`,
      async () => {
        const results: TurnResult[] = [];
        for (let turn = 0; turn < TURNS; turn++) {
          const kind = turn % 3 === 2 ? 'run' : 'say';
          const word = `turn ${turn} ${runtime} ${Math.random().toString(36).slice(2, 8)}`;
          results.push(
            await scriptedTurn(client, events, id, runtime, { kind, word, file: join(cwd, `file-${turn}`) }),
          );
        }
        const correct = results.filter((result) => result.ok).length;
        const lags = results.map((result) => result.idleLagMs).sort((a, b) => a - b);
        const summary = {
          runtime,
          turns: results.length,
          correct,
          accuracy: correct / results.length,
          idle_lag_ms_median: lags[Math.floor(lags.length / 2)],
          idle_lag_ms_max: lags[lags.length - 1],
          problems: results
            .filter((result) => !result.ok)
            .map((result) => `${result.kind}: ${result.problem}`),
        };
        process.stdout.write(`agent status accuracy ${JSON.stringify(summary)}\n`);
        expect(summary.accuracy, summary.problems.join('\n')).toBeGreaterThanOrEqual(0.9);
      },
      30_000 + TURNS * 8000,
    );

    it('restart resumes the last conversation, linked to the old session', async () => {
      const newId = await client.restart(id);
      const info = await waitState(client, newId, 'idle', 45_000);
      expect(info).toMatchObject({ resumed_from: id, cwd, runtime });
      expect((await sessionInfo(client, id)).status).toBe('exited');
      // The resumed conversation shows the first turn again (drawn just after the program says ready).
      await waitFor(
        async () => /hello from tower|turn \d+/.test((await client.screen(newId)).text),
        'the resumed conversation on screen',
        15_000,
      );
      const result = await scriptedTurn(client, events, newId, runtime, {
        kind: 'say',
        word: 'after resume',
        file: '',
      });
      expect(result.problem).toBeNull();
      await client.close(newId);
    });

    it('is blocked by the credential gate when it has no model upstream', async () => {
      const bare = mkdtempSync(join(scratch, 'bare-home-'));
      const blocked = { PATH: env.PATH!, HOME: bare, CODEX_HOME: join(bare, '.codex') };
      const error = await client.createSession({ runtime, cwd, env: blocked }).catch((e: Error) => e);
      expect(error).toMatchObject({ code: 'runtime_blocked' });
      expect((error as Error).message).toMatch(
        new RegExp(`^cannot start ${runtime}: no model upstream: .* Fix: `),
      );
    });
  });
}
