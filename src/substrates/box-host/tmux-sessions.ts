/** A substrate's terminals as windows of tmux on its box, where Tower's own session host cannot run. */
import { boxEnv } from '../box/exec.js';
import type { Box } from '../box/types.js';
import { openTmuxPty, reattachTmux, TmuxHost } from '../tmux/tmux-host.js';
import type { TmuxPty } from '../tmux/tmux-pty.js';
import type { PtySpec, Resume } from '../types.js';
import { DeferredPty } from './deferred-pty.js';
import type { BoxSessions } from './remote-substrate.js';

/** `home`: the box user's home (tmux wants an absolute directory). */
export function tmuxSessions(box: Box, home: () => string): BoxSessions {
  const open = new Set<TmuxPty>();
  const track = (pty: TmuxPty) => {
    for (const known of open) if (known.linkState === 'exited') open.delete(known);
    open.add(pty);
    return pty;
  };
  // A box that is gone takes its panes with it: no reconnecting will find them.
  box.on('link', (link) => {
    if (link.state === 'gone') for (const pty of open) pty.lose(link.reason);
  });
  const absolute = (cwd: string) =>
    cwd === '~' ? home() : cwd.startsWith('~/') ? `${home().replace(/\/$/, '')}/${cwd.slice(2)}` : cwd;
  return {
    openPty: (spec: PtySpec) =>
      openTmuxPty(box, {
        sessionId: spec.sessionId,
        command: spec.command,
        args: spec.args,
        cwd: absolute(spec.cwd),
        // No Tower on the box to set them: the local session takes its signals out itself.
        env: {
          ...boxEnv(spec),
          TOWER_SESSION_ID: spec.sessionId,
          ...(spec.signalKey ? { TOWER_SIGNAL_KEY: spec.signalKey } : {}),
        },
        cols: spec.cols,
        rows: spec.rows,
      }).then(track),
    reattach: (sessionId: string, resume: Resume) =>
      new DeferredPty(
        reattachTmux(box, sessionId, resume.cols, resume.rows).then(track),
        resume.command,
        `finding its tmux window on ${box.name} again`,
      ),
    close: () => TmuxHost.for(box).close(),
  };
}
