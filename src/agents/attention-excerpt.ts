/**
 * What an attention event quotes: the answer a hook or notify call carried, else what the dialog on
 * screen asks, else the screen's last line of content, each once the output it depends on has come.
 */
import type { AttentionKind } from '../protocol/index.js';
import type { Clock } from '../state/clock.js';
import type { AgentSession } from './ports.js';
import type { StatusTracker } from './status.js';

const EXCERPT_SETTLE_MS = 150;
/**
 * How long a turn's end without its answer waits for the hook or notify call that carries it: a
 * program started per turn, which takes seconds on a loaded machine (3 s was not enough in CI).
 */
const SIGNAL_EXCERPT_WAIT_MS = 10_000;

export async function attentionExcerpt(
  tracker: StatusTracker,
  session: Pick<AgentSession, 'text'>,
  clock: Clock,
  kind: AttentionKind,
  given: string,
): Promise<string> {
  let excerpt = given;
  // A signal names at most a tool; the dialog on screen says what it asks (Claude Code's command).
  const askScreen = kind === 'needs_input' && tracker.status.source !== 'screen';
  // A line read off the screen is a guess: where a hook or notify call brings the answer, it wins.
  const guessed = !excerpt || tracker.status.source === 'screen';
  if (guessed && kind === 'turn_finished' && tracker.reportsTurnEnd && !tracker.signalsSilent) {
    // Codex's OSC says done before its notify call brings the answer: the screen may not show it yet.
    const seen = tracker.signalExcerpt.count;
    for (
      let waited = 0;
      tracker.signalExcerpt.count === seen && waited < SIGNAL_EXCERPT_WAIT_MS;
      waited += 50
    ) {
      await clock.sleep(50);
    }
    if (tracker.signalExcerpt.count !== seen) excerpt = tracker.signalExcerpt.text;
    else tracker.signalsSilent = true;
  }
  if (askScreen || (!excerpt && kind !== 'exited')) {
    // A signal can come before its screen is drawn (Codex's turn end): let the output settle first.
    for (let waited = 0; tracker.quietFor < EXCERPT_SETTLE_MS && waited < 1000; waited += 50) {
      await clock.sleep(50);
    }
    const screen = await session.text().then(
      (snapshot) => snapshot.text,
      () => '',
    );
    excerpt = (askScreen && tracker.askedIn(screen)) || excerpt || tracker.excerptOf(screen);
  }
  return excerpt;
}
