import type { Command } from '../command.js';
import { baselineCommand } from './baseline.js';
import { checkConfigCommand } from './check-config.js';
import { listenersCommand } from './listeners.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';

/** Every command, loaded (docs and tests; the CLI loads only the one it runs, see index.ts). */
export const allCommands: readonly Command[] = [runCommand, listenersCommand, checkConfigCommand, replayCommand, baselineCommand];
