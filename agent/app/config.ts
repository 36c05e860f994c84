import { EMBEDDED, readConfigFile, validate } from '../../config/loader.js';
import { ConfigError } from '../util/errors.js';
import { configSchema } from './config-schema.js';
import type { Config } from './config-schema.js';

export type { Config } from './config-schema.js';

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or EMBEDDED. */
  file: string;
  /** Output names after defaulting (`stdout`, `file`, `file-2` ...), index-aligned with config.outputs. */
  outputNames: string[];
}

/** Validates plain settings (already interpolated) against the agent's schema; throws ConfigError. */
export function parseConfig(raw: unknown, file: string): LoadedConfig {
  const config = validate(configSchema, raw, file);
  const counts = new Map<string, number>();
  const outputNames = config.outputs.map((o) => {
    if (o.name !== undefined) return o.name;
    const n = (counts.get(o.type) ?? 0) + 1;
    counts.set(o.type, n);
    return n === 1 ? o.type : `${o.type}-${n}`;
  });
  if (new Set(outputNames).size !== outputNames.length) {
    throw new ConfigError(file, 'outputs', 'output names must be unique; give each repeated output a `name`');
  }
  return { config, file, outputNames };
}

/** Reads, interpolates and validates a YAML config file; without a file, the embedded default. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return file === undefined ? parseConfig({}, EMBEDDED) : parseConfig(readConfigFile(file, env), file);
}
