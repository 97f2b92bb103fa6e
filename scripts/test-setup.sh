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
# A Debian package some tests need (`package`, `what` needs it, `missing`: what is not there), installed
# with apt-get when running as root; otherwise those tests skip (or fail with TOWER_TEST_STRICT=1).
install_package() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    need "installing $1 (apt-get) for $2"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$1" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq "$1" >/dev/null; } ||
      need "could not install $1: $2 will skip (or fail with TOWER_TEST_STRICT=1)"
  else
    need "no $3: $2 will skip (apt-get install -y $1)"
  fi
}
# The browser tests drive Debian's Chromium through playwright-core, which downloads no browser.
[ -x /usr/bin/chromium ] || install_package chromium "the browser tests" /usr/bin/chromium
# The sandbox substrate runs programs under bubblewrap; its tests use the real one.
command -v bwrap >/dev/null 2>&1 || install_package bubblewrap "the sandbox tests" bwrap
# The docker substrate's tests use Debian's dockerd, started with a data root and socket of its own,
# and images made from this machine's files (scripts/test-dockerd.sh).
[ -x /usr/sbin/dockerd ] || install_package docker.io "the docker tests" dockerd
if [ -x /usr/sbin/dockerd ] && ! bash "$(dirname "$0")/test-dockerd.sh"; then
  need "the test Docker Engine did not start: the docker tests will skip (or fail with TOWER_TEST_STRICT=1)"
fi
# The ssh substrate's tests start Debian's OpenSSH server on 127.0.0.1 (and ssh-agent, ssh-keygen).
[ -x /usr/sbin/sshd ] || install_package openssh-server "the ssh tests" /usr/sbin/sshd
# mDNS discovery is tested between network namespaces the test creates (ip netns, a veth pair).
command -v ip >/dev/null 2>&1 || install_package iproute2 "the discovery tests" ip
# The real agent CLIs (Claude Code, Codex, Gemini CLI), pinned, into a cache outside the project's
# dependencies; the agent tests drive them against a local fake model server.
if ! bash "$(dirname "$0")/install-agents.sh" >/dev/null; then
  need "could not install the agent CLIs: their tests will skip (or fail with TOWER_TEST_STRICT=1)"
fi
need "ok"
