#!/usr/bin/env bash
# Installs and starts what the test suite needs when it is missing. Run by `npm test`.
# Each component is checked first, so a machine that has it set up pays nothing.
set -euo pipefail

need() { printf 'test-setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  need "Node >= 20 is required (found $(node --version))"
  exit 1
fi

# Real PTYs: the kernel must offer /dev/ptmx and enough ptys for the scale tests.
if [ ! -c /dev/ptmx ]; then
  need "no /dev/ptmx: the tests run programs on real pseudo-terminals"
  exit 1
fi

# The daemon's native modules must load (node-pty ships prebuilt; better-sqlite3 compiles at install).
node -e "require('@lydell/node-pty'); new (require('better-sqlite3'))(':memory:').close()" || {
  need "native modules failed to load; run: npm rebuild"
  exit 1
}
need "ok"
