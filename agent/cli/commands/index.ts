import type { Command } from '../command.js';
import { baselineCommand } from './baseline.js';
import { checkConfigCommand } from './check-config.js';
import { listenersCommand } from './listeners.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';

/** Every `portwarden <command>`, in the order --help lists them. */
export const commands: readonly Command[] = [
  runCommand,
  listenersCommand,
  checkConfigCommand,
  replayCommand,
  baselineCommand,
];
