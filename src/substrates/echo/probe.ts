/**
 * What the credential gate asks, answered for the echo substrate: every program is there (the echo
 * stands in for any), the variables given to it are set, and no file exists. Nothing on the host is read.
 */
import { basename } from 'node:path';
import type { ProbeQuery, ProbeResult } from '../types.js';

/** Where the stand-in says a program is: a path that exists nowhere, so nothing runs it. */
const ECHO_BIN = '/echo-substrate/bin';

export async function probeEcho(query: ProbeQuery): Promise<ProbeResult> {
  return {
    home: query.env.HOME || '/',
    programs: Object.fromEntries(
      query.programs.map((program) => [program, `${ECHO_BIN}/${basename(program)}`]),
    ),
    variables: Object.fromEntries(query.variables.map((name) => [name, Boolean(query.env[name])])),
    files: Object.fromEntries(query.files.map((file) => [file, false])),
  };
}
