#!/usr/bin/env node
// `tower hook` runs inside agents at every turn: it skips loading the full CLI.
const args = process.argv.slice(2);
const at = args[0] === '--state-dir' ? 2 : 0;
// `tower hook --help` (or any flag) goes to the full CLI, which explains the command.
if (args[at] === 'hook' && args[at + 1] && !args[at + 1].startsWith('-')) {
  const { runHook } = await import('../dist/cli/hook.js');
  const { resolveStateDir } = await import('../dist/state/paths.js');
  await runHook(resolveStateDir(at ? args[1] : undefined), args[at + 1], args[at + 2]);
} else {
  await import('../dist/cli/main.js');
}
