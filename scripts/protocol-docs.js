#!/usr/bin/env node
/**
 * Renders docs/PROTOCOL.md from the zod schemas in src/protocol (compiled to dist).
 * `node scripts/protocol-docs.js` writes it; `--check` fails when the file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { MAX_FRAME_PAYLOAD } from '../dist/protocol/binary-frame.js';
import {
  ClientMessage,
  DaemonMessage,
  ErrorCode,
  MAX_LINE_BYTES,
  SessionInfo,
} from '../dist/protocol/socket.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs', 'PROTOCOL.md');

function typeOf(schema) {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' \\| ');
  if (schema.const !== undefined) return `\`"${schema.const}"\``;
  if (schema.enum) return schema.enum.map((v) => `\`${v}\``).join(' \\| ');
  if (schema.type === 'array') return `${typeOf(schema.items ?? {})}[]`;
  if (
    schema.type === 'object' &&
    schema.additionalProperties &&
    typeof schema.additionalProperties === 'object'
  )
    return `{string: ${typeOf(schema.additionalProperties)}}`;
  if (schema.$ref || (schema.type === 'object' && schema.description === SessionInfo.description))
    return '[SessionInfo](#sessioninfo)';
  return Array.isArray(schema.type) ? schema.type.join(' \\| ') : (schema.type ?? 'any');
}

function table(schema) {
  const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' });
  const required = new Set(json.required ?? []);
  const rows = Object.entries(json.properties ?? {})
    .filter(([name]) => name !== 'type')
    .map(([name, field]) => {
      const description = (
        field.description ??
        field.anyOf?.find((f) => f.description)?.description ??
        ''
      ).replaceAll('|', '\\|');
      return `| \`${name}\` | ${typeOf(field)} | ${required.has(name) ? 'yes' : ''} | ${description} |`;
    });
  if (rows.length === 0) return '_no fields besides `type`_\n';
  return ['| field | type | required | meaning |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

function section(union) {
  return union.options
    .map((message) => {
      const type = message.shape.type.value;
      return `### \`${type}\`\n${message.description ?? ''}\n\n${table(message)}`;
    })
    .join('\n');
}

export function render() {
  return `# Tower socket protocol

<!-- Generated from src/protocol/socket.ts by \`npm run docs\`. Do not edit by hand. -->

The daemon listens on \`<state-dir>/tower.sock\` (mode 0600, directory 0700). Each message is one JSON
object on one line (newline-delimited JSON), at most ${MAX_LINE_BYTES} bytes. \`type\` and field names are
snake_case. The first message must be \`auth\` with the token from \`<state-dir>/token\`.

The message set is agor-pty's: a client that knows only \`auth\`, \`create_session\`, \`write_input\`,
\`resize\`, \`subscribe\`, \`unsubscribe\`, \`close_session\`, \`list_sessions\` and \`ping\` works unchanged
and is never sent a message type outside agor-pty's set. Everything marked *extension* is optional.

Byte offsets: every output byte of a session has an absolute offset, counted from its first byte.
\`session_output.offset\` is the offset of its first byte; a subscriber resumes with
\`subscribe.from_offset\` and gets exactly the bytes from there, with no gap and no duplicate.

### Binary output frames

A subscription made with \`binary: true\` (an extension) gets its output as binary frames instead of
\`session_output\` lines: raw bytes, not base64. A frame may come between any two lines, and begins
with a NUL byte, which no line begins with:

| bytes | meaning |
|---|---|
| 1 | \`0x00\` |
| 1 | length of the session id, L |
| L | the session id (ASCII) |
| 8 | offset of the first byte, unsigned big-endian |
| 4 | number of bytes that follow, N (at most ${MAX_FRAME_PAYLOAD}), unsigned big-endian |
| N | the output |

Everything else about the subscription is unchanged (snapshots, \`session_closed\`; a resync of a
client that asked for neither offsets nor snapshots is still a \`session_output\` line).

## Client → daemon

${section(ClientMessage)}
## Daemon → client

${section(DaemonMessage)}
## SessionInfo

${SessionInfo.description}

${table(SessionInfo)}
## Error codes

${ErrorCode.options.map((code) => `\`${code}\``).join(', ')}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = render();
  if (process.argv.includes('--check')) {
    if (readFileSync(target, 'utf8') !== text) {
      process.stderr.write('docs/PROTOCOL.md is stale: run npm run docs\n');
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
  }
}
