/**
 * The in-band status channel through the real session host: what a session's program writes to its
 * terminal with the session's key is taken out of the output before the journal, the screen and the
 * subscribers, and reaches the control plane as a `signal` notice; a sequence with another key stays
 * output and signals nothing. End to end, `tower hook` run inside a session moves its status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellSignalCommand } from '../dist/agents/runtimes/shell-signal.js';
import type { TowerClient } from '../dist/client/client.js';
import type { DaemonMessageOf } from '../dist/protocol/index.js';
import {
  collectOutput,
  readAllOutput,
  startTestDaemon,
  type TestDaemon,
  TOWER_BIN,
  waitFor,
} from './support/daemon.js';

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await startTestDaemon({ serveArgs: ['--no-http'] });
});

afterAll(async () => {
  await daemon?.dispose();
});

const signal = (event: string, tool: string) =>
  `{"source":"claude","event":"${event}","payload":{"tool_name":"${tool}"}}`;
/** A printf of the sequence, signed with `key` (a shell expression). */
const printSignal = (key: string, body: string) => `printf '\\033]7717;%s;${body}\\007' "${key}"`;

/** Attach a client of our own as the control plane, as `tower serve` does, and keep its notices. */
async function attachAsControlPlane(protocol: number) {
  const client = await daemon.connect();
  await client.request({ type: 'attach_control_plane', protocol, build: 'test' });
  const notices: Array<DaemonMessageOf<'session_notice'>> = [];
  client.on('session_notice', (notice) => notices.push(notice));
  return {
    client,
    signals: (id: string) => notices.filter((n) => n.session_id === id && n.kind === 'signal'),
  };
}

async function run(client: TowerClient, script: string): Promise<string> {
  const { sessionId } = await client.createSession({ shell: '/bin/sh', args: ['-c', script], cols: 80 });
  return sessionId;
}

describe('in-band status signals', () => {
  it('are taken out before the journal, the screen and subscribers, and sent to the control plane', async () => {
    await daemon.stopControlPlane();
    const controlPlane = await attachAsControlPlane(3);
    const viewer = await daemon.connect();
    const id = await run(
      controlPlane.client,
      // Subscribed before it writes: the subscriber must never see a signal either.
      'sleep 0.5; printf "before:"; ' +
        `${printSignal('$TOWER_SIGNAL_KEY', signal('PreToolUse', 'Bash'))}; ` +
        `${printSignal('ffffffffffffffffffffffffffffffff', signal('Stop', 'spoofed'))}; ` +
        `printf ":after\\n"; ${printSignal('$TOWER_SIGNAL_KEY', signal('PostToolUse', 'Bash'))}; ` +
        'printf "end\\n"; exec sleep 60',
    );
    const live = collectOutput(viewer, id);
    await viewer.subscribe(id, { fromOffset: 0 });
    await waitFor(() => controlPlane.signals(id).length >= 2 && live.text().includes('end'), 'two signals');
    expect(controlPlane.signals(id).map((notice) => notice.signal)).toEqual([
      { source: 'claude', event: 'PreToolUse', payload: { tool_name: 'Bash' } },
      { source: 'claude', event: 'PostToolUse', payload: { tool_name: 'Bash' } },
    ]);
    const spoofed = `\x1b]7717;${'f'.repeat(32)};${signal('Stop', 'spoofed')}\x07`;
    const expected = `before:${spoofed}:after\r\nend\r\n`;
    expect((await readAllOutput(viewer, id)).toString()).toBe(expected);
    expect(live.text()).toBe(expected);
    expect(live.gaps()).toBe(0);
    const screen = await viewer.screen(id);
    expect(screen.text).toMatch(/^before::after\nend\n/);
    expect((await viewer.list()).find((info) => info.id === id)?.last_offset).toBe(
      Buffer.byteLength(expected),
    );
    viewer.end();
    controlPlane.client.end();
  });

  it('reach no control plane too old to read them (protocol 2); the output is the same', async () => {
    const old = await attachAsControlPlane(2);
    const id = await run(
      old.client,
      `printf "a"; ${printSignal('$TOWER_SIGNAL_KEY', signal('PreToolUse', 'Bash'))}; printf "b"; exec sleep 60`,
    );
    await waitFor(async () => (await readAllOutput(old.client, id)).toString() === 'ab', 'the output');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(old.signals(id)).toEqual([]);
    old.client.end();
  });

  it('`tower hook` and the shell form move its status, with a controlling terminal or without one', async () => {
    await daemon.restart();
    const client = await daemon.connect();
    const statuses: Array<{ state: string; reason: string; source: string }> = [];
    let id = '';
    client.on('session_event', ({ event, session }) => {
      if (event === 'status' && session.id === id && session.agent.source === 'hook')
        statuses.push(session.agent);
    });
    await client.watch();
    const hook = (json: string) => `'${process.execPath}' '${TOWER_BIN}' hook claude '${json}'`;
    const shellForm = shellSignalCommand('claude', 'PermissionRequest', {
      withTool: true,
      fallback: 'false',
    });
    // setsid: a session of its own, no controlling terminal, as Claude Code starts its hooks.
    id = await run(
      client,
      `sleep 0.5; ${hook('{"hook_event_name":"PreToolUse","tool_name":"Bash"}')}; sleep 0.3; ` +
        `echo '{"hook_event_name":"PermissionRequest","tool_name":"Edit","tool_input":{}}' | ` +
        `setsid -w sh -c '${shellForm.replaceAll("'", `'\\''`)}'; sleep 0.3; ` +
        `setsid -w ${hook('{"hook_event_name":"Stop","last_assistant_message":"done"}')}; ` +
        'printf "hooked\\n"; exec sleep 60',
    );
    await waitFor(() => statuses.length >= 3, `three statuses from hooks (saw ${JSON.stringify(statuses)})`);
    expect(statuses.map(({ state, reason }) => `${state}: ${reason}`)).toEqual([
      'busy: using Bash',
      'needs_input: asks permission to use Edit',
      'idle: turn finished',
    ]);
    // Printed after the last hook: nothing of the signals before it.
    await waitFor(async () => (await readAllOutput(client, id)).toString() === 'hooked\r\n', 'the output');
    client.end();
  });
});
