import type { CommandEntry } from '../command.js';

/** Every `portwarden <command>`, in the order --help lists them; a command's module loads when it runs. */
export const commands: readonly CommandEntry[] = [
  { name: 'run', summary: 'run the agent in the foreground', load: async () => (await import('./run.js')).runCommand },
  { name: 'listeners', summary: 'one-shot inventory of listening sockets with owners and ancestry', load: async () => (await import('./listeners.js')).listenersCommand },
  { name: 'check-config', summary: 'validate a config and print it resolved, secrets redacted', load: async () => (await import('./check-config.js')).checkConfigCommand },
  { name: 'replay', summary: 'run the detectors over recorded ECS events (backtesting)', load: async () => (await import('./replay.js')).replayCommand },
  { name: 'baseline', summary: 'export or import the learned listener / parent-child baseline', load: async () => (await import('./baseline.js')).baselineCommand },
];
