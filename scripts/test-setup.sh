#!/usr/bin/env bash
# Installs and starts what the test suite needs when it is missing. Run by `npm test`.
# Each component is checked first, so a machine that has it set up pays nothing.
set -euo pipefail

need() { printf 'test-setup: %s\n' "$*" >&2; }

# The Node versions package.json's engines allow (every dependency accepts them).
if ! node -e 'const { engines } = require("./package.json");
  process.exit(require("semver").satisfies(process.version, engines.node) ? 0 : 1)'; then
  need "Node $(node -p 'require("./package.json").engines.node') is required (found $(node --version))"
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
# The browser tests drive Debian's Chromium through playwright-core, which downloads no browser.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    need "installing chromium (apt-get) for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } ||
      need "could not install chromium: the browser tests will skip (or fail with TOWER_TEST_STRICT=1)"
  else
    need "no /usr/bin/chromium: the browser tests will skip (apt-get install -y chromium)"
  fi
fi
# The real agent CLIs (Claude Code, Codex, Gemini CLI), pinned, into a cache outside the project's
# dependencies; the agent tests drive them against a local fake model server.
if ! bash "$(dirname "$0")/install-agents.sh" >/dev/null; then
  need "could not install the agent CLIs: their tests will skip (or fail with TOWER_TEST_STRICT=1)"
fi
need "ok"
