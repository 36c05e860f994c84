/**
 * The running agent's detection engine. It takes rules already read and validated (by the start-up
 * worker, or load.ts in-process): this module and what it imports carry no zod or YAML parser.
 */
import { join } from 'node:path';
import type { DocumentBuilder } from '../ecs/builder.js';
import type { Logger } from '../log/logger.js';
import { Baseline } from './baseline.js';
import type { DetectConfig } from './config.js';
import { createEngine } from './engine.js';
import type { DetectionEngine } from './engine.js';
import type { Detector } from './types.js';

/** The baseline file of a state dir. */
export const baselineFile = (stateDir: string): string => join(stateDir, 'baseline.json');

export interface AgentEngineOptions {
  config: DetectConfig;
  configFile: string;
  stateDir: string;
  builder: DocumentBuilder;
  logger: Logger;
  /** The rule files' detectors. */
  rules: readonly Detector[];
}

/**
 * Built-in detectors, the given rules, allowlists, and the learned baseline in
 * `<stateDir>/baseline.json` (saved periodically, on flush and on shutdown).
 * Throws ConfigError for a bad allowlist entry.
 */
export function createAgentEngine(opts: AgentEngineOptions): DetectionEngine {
  const logger = opts.logger.child({ component: 'detect' });
  const b = opts.config.baseline;
  const baseline = b.enabled
    ? new Baseline({ file: baselineFile(opts.stateDir), learningMs: b.learning, maxEntries: b.max_entries, logger })
    : undefined;
  const engine = createEngine({ config: opts.config, configFile: opts.configFile, builder: opts.builder, logger, baseline, rules: opts.rules });
  logger.info(`detection: ${engine.rules().length} rules active${baseline === undefined ? '' : `, baseline learning window ${Math.round(b.learning / 3600_000)}h`}`);
  return engine;
}
