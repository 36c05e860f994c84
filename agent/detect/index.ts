import { join } from 'node:path';
import type { DocumentBuilder } from '../ecs/builder.js';
import type { Logger } from '../log/logger.js';
import { Baseline } from './baseline.js';
import type { DetectConfig } from './config.js';
import { createEngine } from './engine.js';
import type { DetectionEngine } from './engine.js';

export type { DetectionEngine } from './engine.js';
export { createEngine, familyOf } from './engine.js';
export { Baseline } from './baseline.js';
export type { DetectConfig } from './config.js';
export { detectSchema } from './config.js';

/** The baseline file of a state dir. */
export const baselineFile = (stateDir: string): string => join(stateDir, 'baseline.json');

/**
 * The agent's detection engine: built-in packs, the user's rule files, allowlists, and the learned
 * baseline in `<stateDir>/baseline.json` (saved periodically, on flush and on shutdown).
 * Throws ConfigError for a bad rule file (file, rule id, key) or allowlist entry.
 */
export function createDetectionEngine(opts: { config: DetectConfig; configFile: string; stateDir: string; builder: DocumentBuilder; logger: Logger }): DetectionEngine {
  const logger = opts.logger.child({ component: 'detect' });
  const b = opts.config.baseline;
  const baseline = b.enabled
    ? new Baseline({ file: baselineFile(opts.stateDir), learningMs: b.learning, maxEntries: b.max_entries, logger })
    : undefined;
  const engine = createEngine({ config: opts.config, configFile: opts.configFile, builder: opts.builder, logger, baseline });
  logger.info(`detection: ${engine.rules().length} rules active${baseline === undefined ? '' : `, baseline learning window ${Math.round(b.learning / 3600_000)}h`}`);
  return engine;
}
