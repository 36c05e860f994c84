/**
 * The running agent's detection engine behind one reference, so a reload can swap it between two
 * events: the watcher calls `evaluate` through the slot and never holds an engine itself. The
 * learned baseline and the "fire once" memory pass from one engine to the next (EngineCarry).
 */
import { createAgentEngine } from '../detect/agent-engine.js';
import type { AgentEngine } from '../detect/agent-engine.js';
import { buildRule } from '../detect/rules.js';
import type { DocumentBuilder } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import type { Logger } from '../log/logger.js';
import type { MergedDetection } from './overlay.js';

export interface DetectionCounts {
  enabled: boolean;
  /** Active rules (built-in detectors, rule files and overlays, minus disabled ones). */
  rules: number;
  disabledRules: number;
  allowlistEntries: number;
  sensitivePorts: number;
}

export class DetectionSlot {
  private engine: AgentEngine | undefined;
  private counts: DetectionCounts = { enabled: false, rules: 0, disabledRules: 0, allowlistEntries: 0, sensitivePorts: 0 };

  constructor(private readonly o: { configFile: string; stateDir: string; builder: DocumentBuilder; logger: Logger }) {}

  evaluate(doc: EcsDocument): EcsDocument[] {
    return this.engine?.evaluate(doc) ?? [];
  }

  get current(): DetectionCounts { return this.counts; }

  /**
   * Builds the engine for `merged` without installing it; throws ConfigError for a bad rule or
   * allowlist entry, leaving the running engine as it was. Undefined when detection is off.
   */
  build(merged: MergedDetection, configFile: string): AgentEngine | undefined {
    if (!merged.detect.enabled) return undefined;
    const prev = this.engine;
    // A baseline with other settings is saved first, so the new engine reads what was learned.
    if (prev?.carry.baseline !== undefined) prev.carry.baseline.save();
    return createAgentEngine({
      config: merged.detect, configFile, stateDir: this.o.stateDir, builder: this.o.builder, logger: this.o.logger,
      rules: merged.rules.map(buildRule),
      ...(prev === undefined ? {} : { carry: prev.carry }),
    });
  }

  /** Installs `next` (from build) and retires the previous engine (its baseline is saved). */
  async install(next: AgentEngine | undefined, merged: MergedDetection): Promise<void> {
    const prev = this.engine;
    await next?.start();
    this.engine = next;
    this.counts = {
      enabled: next !== undefined,
      rules: next?.rules().length ?? 0,
      disabledRules: merged.detect.disabled_rules.length,
      allowlistEntries: merged.detect.allowlist.length,
      sensitivePorts: merged.detect.sensitive_ports.length,
    };
    if (prev !== undefined && prev !== next) await prev.shutdown();
  }

  async start(): Promise<void> { await this.engine?.start(); }

  async shutdown(): Promise<void> { await this.engine?.shutdown(); }
}
