/**
 * The in-band status channel: an agent's hook writes its signal to the session's own terminal as a
 * private OSC sequence, and the session host takes it out of the output before anything sees it. It
 * needs nothing but the terminal, so it works wherever the session runs (a sandbox, another machine).
 *
 *   ESC ] 7717 ; <key> ; <JSON: {"source","event","payload"}> BEL
 *
 * The key is the session's own (random, in $TOWER_SIGNAL_KEY): output that merely contains such a
 * sequence (a file shown with cat, a web page) cannot speak for the agent. JSON text never holds a raw
 * BEL or ESC (control characters are escaped), so the body cannot end the sequence early. This file
 * imports nothing: `tower hook` loads it on every agent turn.
 */

/** The OSC number: not used by any terminal we know of. */
export const SIGNAL_OSC = 7717;
/** Where a session finds its key; set by session hosts that take these sequences out (protocol 3). */
export const SIGNAL_KEY_ENV = 'TOWER_SIGNAL_KEY';
/** The body (the JSON) at most; a longer sequence is not a signal and stays in the output. */
export const MAX_SIGNAL_BODY_BYTES = 8 * 1024;

export function signalPrefix(key: string): string {
  return `\x1b]${SIGNAL_OSC};${key};`;
}

export function signalSequence(key: string, body: string): string {
  return `${signalPrefix(key)}${body}\x07`;
}
