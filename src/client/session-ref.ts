/**
 * Sessions are addressed by reference: an exact id, else an exact name, else a unique id prefix
 * (`tower attach cc1`, `tower screen f553`). One resolver, used by every command that names a session.
 */
import type { SessionInfo } from '../protocol/index.js';
import { ClientError } from './errors.js';

/** Candidates listed in an ambiguity error, at most. */
const MAX_LISTED = 10;

/**
 * Fails with `unknown_session` or `ambiguous_session`; the message lists the candidates. It is raw
 * text (names are client-controlled): whoever prints it escapes it.
 */
export function resolveSessionRef(sessions: SessionInfo[], ref: string): SessionInfo {
  const byId = sessions.find((session) => session.id === ref);
  if (byId) return byId;
  const byName = sessions.filter((session) => session.name === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw ambiguous(ref, 'name', byName);
  const byPrefix = ref.length > 0 ? sessions.filter((session) => session.id.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) throw ambiguous(ref, 'id prefix', byPrefix);
  throw new ClientError('unknown_session', `unknown session: ${ref}`);
}

function ambiguous(ref: string, how: string, matches: SessionInfo[]): ClientError {
  const listed = matches
    .slice(0, MAX_LISTED)
    .map((session) => (session.name === null ? session.id : `${session.id} (${session.name})`));
  const more = matches.length > MAX_LISTED ? `, and ${matches.length - MAX_LISTED} more` : '';
  return new ClientError(
    'ambiguous_session',
    `ambiguous session ${ref}: ${matches.length} sessions have this ${how}: ${listed.join(', ')}${more}; ` +
      'give the id or more of it',
  );
}
