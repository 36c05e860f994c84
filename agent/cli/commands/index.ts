import { Registry } from '../../util/registry.js';
import type { Command } from '../command.js';

/**
 * Every `portwarden <command>`, listed once, in the order --help lists them: its one-line summary and
 * its module, loaded when it runs (each command brings its own dependencies, and `run` keeps the
 * others' out of the agent).
 */
const listed = {
  run: ['run the agent in the foreground', async () => (await import('./run.js')).runCommand],
  listeners: ['one-shot inventory of listening sockets with owners and ancestry', async () => (await import('./listeners.js')).listenersCommand],
  reload: ['make the running agent re-read its config and rules in place (SIGHUP)', async () => (await import('./reload.js')).reloadCommand],
  status: ['how the running agent is doing: outputs, queues, losses (exit 0 ok, 1 degraded, 3 not running)', async () => (await import('./status.js')).statusCommand],
  'check-config': ['validate a config and print it resolved, secrets redacted', async () => (await import('./check-config.js')).checkConfigCommand],
  replay: ['run the detectors over recorded ECS events (backtesting)', async () => (await import('./replay.js')).replayCommand],
  rules: ['check rule files and Sigma rules: which load, which are unsupported and why', async () => (await import('./rules.js')).rulesCommand],
  baseline: ['export or import the learned listener / parent-child baseline', async () => (await import('./baseline.js')).baselineCommand],
  policy: ['make and check signed central policy bundles (keygen, sign, verify)', async () => (await import('./policy.js')).policyCommand],
} satisfies Record<string, readonly [summary: string, load: () => Promise<Command>]>;

export const commands = new Registry<Promise<Command>>('command', Object.fromEntries(Object.entries(listed).map(([name, [, load]]) => [name, load])));

/** The one-line summary of each command, for `portwarden --help` and the docs. */
export const summaries: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(listed).map(([name, [summary]]) => [name, summary]));
