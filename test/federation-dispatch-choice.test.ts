import { describe, expect, it } from 'vitest';
import { chooseDispatch } from '../dist/federation/dispatch-choice.js';
import type { SessionInfo } from '../dist/protocol/socket.js';

function session(state: string, queued = 0, runtime = 'claude', cwd = '/w'): SessionInfo {
  return {
    id: Math.random().toString(16).slice(2),
    status: 'running',
    runtime,
    cwd,
    queued_prompts: queued,
    agent: { state, reason: '', since: '', source: 'screen' },
  } as unknown as SessionInfo;
}

const request = { runtime: 'claude', limit: 2 };

describe('chooseDispatch', () => {
  it('takes an idle session here first, even when a peer is idle too', () => {
    const choice = chooseDispatch(
      request,
      [session('idle')],
      [{ name: 'b', rttMs: 1, sessions: [session('idle')] }],
    );
    expect(choice).toEqual({ peer: null, reason: 'an idle claude session here' });
  });

  it('starts one here while under the limit', () => {
    const choice = chooseDispatch(
      request,
      [session('busy')],
      [{ name: 'b', rttMs: 1, sessions: [session('idle')] }],
    );
    expect(choice.peer).toBeNull();
    expect(choice.reason).toContain('1 of 2 running');
  });

  it('goes to the nearest peer with an idle session when this machine is at its limit', () => {
    const local = [session('busy'), session('idle', 1)];
    const peers = [
      { name: 'far', rttMs: 40, sessions: [session('idle')] },
      { name: 'near', rttMs: 2, sessions: [session('idle')] },
      { name: 'busy', rttMs: 1, sessions: [session('busy'), session('busy')] },
    ];
    const choice = chooseDispatch(request, local, peers);
    expect(choice.peer).toBe('near');
    expect(choice.reason).toContain('an idle claude session on near');
  });

  it('starts one on a peer with room when no machine has an idle one', () => {
    const local = [session('busy'), session('busy')];
    const choice = chooseDispatch(request, local, [{ name: 'b', rttMs: null, sessions: [session('busy')] }]);
    expect(choice).toMatchObject({ peer: 'b' });
    expect(choice.reason).toContain('one starts on b');
  });

  it('queues here when every machine is full; other runtimes and cwds do not count', () => {
    const local = [
      session('busy'),
      session('busy'),
      session('idle', 0, 'codex'),
      session('idle', 0, 'claude', '/x'),
    ];
    const peers = [{ name: 'b', rttMs: 1, sessions: [session('busy'), session('busy')] }];
    expect(chooseDispatch({ ...request, cwd: '/w' }, local, peers)).toMatchObject({ peer: null });
    expect(chooseDispatch({ ...request, cwd: '/w' }, local, peers).reason).toContain('every machine');
  });
});
