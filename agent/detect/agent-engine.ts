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
  /** State of the engine this one replaces (reload): its baseline, if the settings match, and fired memory. */
  carry?: EngineCarry;
}

/** What a reload hands from one engine to the next, so learning and "fire once" survive it. */
export interface EngineCarry {
  baseline: Baseline | undefined;
  /** The baseline settings `baseline` was made with; a different value makes a new one from the file. */
  baselineKey: string;
  fired: Map<string, true>;
}

/** The agent's engine and what a replacement takes over from it. */
export type AgentEngine = DetectionEngine & { readonly carry: EngineCarry };

/**
 * Built-in detectors, the given rules, allowlists, and the learned baseline in
 * `<stateDir>/baseline.json` (saved periodically, on flush and on shutdown).
 * Throws ConfigError for a bad allowlist entry.
 */
export function createAgentEngine(opts: AgentEngineOptions): AgentEngine {
  const logger = opts.logger.child({ component: 'detect' });
  const b = opts.config.baseline;
  const baselineKey = JSON.stringify([b.enabled, b.learning, b.max_entries]);
  const reuse = opts.carry !== undefined && opts.carry.baselineKey === baselineKey;
  // A baseline made with other settings was saved by its engine's flush; this one reads that file.
  const baseline = reuse ? opts.carry?.baseline : b.enabled
    ? new Baseline({ file: baselineFile(opts.stateDir), learningMs: b.learning, maxEntries: b.max_entries, logger })
    : undefined;
  const fired = opts.carry?.fired ?? new Map<string, true>();
  const engine = createEngine({ config: opts.config, configFile: opts.configFile, builder: opts.builder, logger, baseline, rules: opts.rules, fired });
  logger.info(`detection: ${engine.rules().length} rules active${baseline === undefined ? '' : `, baseline learning window ${Math.round(b.learning / 3600_000)}h`}`);
  return Object.assign(engine, { carry: { baseline, baselineKey, fired } });
}
