/** A substrate's terminals as sessions in Tower's own session host on its box (see link.ts). */
import type { PtyProcess } from '../../terminal/pty.js';
import { boxEnv } from '../box/exec.js';
import type { PtySpec, Resume } from '../types.js';
import type { BoxHost } from './link.js';
import { RemotePty } from './remote-pty.js';

export function boxHostSessions(host: BoxHost) {
  return {
    openPty: (spec: PtySpec): Promise<PtyProcess> =>
      RemotePty.open(host, spec.sessionId, {
        command: spec.command,
        args: spec.args,
        cwd: spec.cwd,
        // The box has its own environment: only what was given for the session crosses.
        // Its session host sets TOWER_SESSION_ID itself: the session has the same id there.
        env: boxEnv(spec),
        cols: spec.cols,
        rows: spec.rows,
        signalKey: spec.signalKey,
      }),
    reattach: (sessionId: string, resume: Resume): PtyProcess =>
      RemotePty.resume(host, sessionId, resume.command, resume.offset, resume),
  };
}
