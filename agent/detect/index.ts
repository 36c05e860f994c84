import { createAgentEngine } from './agent-engine.js';
import type { AgentEngineOptions } from './agent-engine.js';
import type { DetectionEngine } from './engine.js';
import { loadRules } from './load.js';

export type { DetectionEngine } from './engine.js';
export { createEngine, familyOf } from './engine.js';
export { Baseline } from './baseline.js';
export type { DetectConfig } from './config.js';
export { detectSchema } from './config.js';
export { baselineFile } from './agent-engine.js';

/**
 * The agent's detection engine with its rule files read in this process (see agent-engine.ts).
 * Throws ConfigError for a bad rule file (file, rule id, key) or allowlist entry.
 */
export function createDetectionEngine(opts: Omit<AgentEngineOptions, 'rules'>): DetectionEngine {
  return createAgentEngine({ ...opts, rules: loadRules(opts.config, opts.configFile) });
}
