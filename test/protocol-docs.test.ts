/** docs/PROTOCOL.md is generated from the zod schemas; a schema change without `npm run docs` fails here. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { render } from '../scripts/protocol-docs.js';
import { ROOT } from './support/daemon.js';

describe('protocol docs', () => {
  it('docs/PROTOCOL.md matches the schemas', () => {
    expect(readFileSync(join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8')).toBe(render());
  });

  it('documents every message type of both directions', () => {
    const text = render();
    for (const type of [
      'auth',
      'create_session',
      'subscribe',
      'session_output',
      'session_closed',
      'snapshot',
      'error',
    ]) {
      expect(text).toContain(`### \`${type}\``);
    }
  });
});
