#!/usr/bin/env bash
# Installs the real agent CLIs the tests drive (Claude Code, Codex, Gemini CLI, OpenCode), pinned, into a cache
# directory outside the project's own dependencies. Idempotent: nothing is fetched when the
# installed versions already match. Prints one line per runtime: "<name> <version> <path>".
#
#   TOWER_AGENTS_DIR   where to install (default: $HOME/.cache/tower-agents)
set -euo pipefail

DIR="${TOWER_AGENTS_DIR:-$HOME/.cache/tower-agents}"
BIN="$DIR/node_modules/.bin"
# name|npm package|pinned version|what `<name> --version` prints
PINS=(
  "claude|@anthropic-ai/claude-code|2.1.197|2.1.197 (Claude Code)"
  "codex|@openai/codex|0.169.0|codex-cli 0.169.0"
  "gemini|@google/gemini-cli|0.61.0|0.61.0"
  "opencode|opencode-ai|1.18.33|1.18.33"
)

installed() { # name expected-version-output
  [ -x "$BIN/$1" ] && [ "$(timeout 60 "$BIN/$1" --version 2>/dev/null | head -n 1)" = "$2" ]
}

missing=0
for pin in "${PINS[@]}"; do
  IFS='|' read -r name _ _ printed <<<"$pin"
  installed "$name" "$printed" || missing=1
done

if [ "$missing" = 1 ]; then
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || printf '{"private":true,"name":"tower-agents"}\n' >"$DIR/package.json"
  specs=()
  for pin in "${PINS[@]}"; do
    IFS='|' read -r _ package version _ <<<"$pin"
    specs+=("$package@$version")
  done
  printf 'install-agents: npm install %s into %s\n' "${specs[*]}" "$DIR" >&2
  npm install --no-audit --no-fund --save-exact --loglevel=error --prefix "$DIR" "${specs[@]}" >&2
fi

status=0
for pin in "${PINS[@]}"; do
  IFS='|' read -r name _ version printed <<<"$pin"
  if installed "$name" "$printed"; then
    printf '%s %s %s\n' "$name" "$version" "$BIN/$name"
  else
    printf '%s MISSING (wanted %s in %s)\n' "$name" "$version" "$BIN" >&2
    status=1
  fi
done
exit "$status"
