/**
 * What `portwarden run` reads and validates before it starts: the config file and the rule files.
 * The result is plain data, so that it can come from the start-up worker (startup-isolated.ts).
 */
import { loadConfig } from './config.js';
import type { LoadedConfig } from './config.js';
import { readRuleSources } from '../detect/load.js';
import type { RuleSource } from '../detect/rules.js';

export interface Startup {
  loaded: LoadedConfig;
  /** Validated rules of the built-in packs and the configured rule files; empty with detection off. */
  rules: RuleSource[];
}

/** Reads and validates everything; throws ConfigError naming the file, the key path and what was expected. */
export function prepareStartup(file: string | undefined, env: NodeJS.ProcessEnv): Startup {
  const loaded = loadConfig(file, env);
  const detect = loaded.config.detect;
  return { loaded, rules: detect.enabled ? readRuleSources(detect, loaded.file) : [] };
}
