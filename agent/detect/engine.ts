import type { DocumentBuilder } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import { getField } from '../ecs/document.js';
import { Action, Dataset, F } from '../ecs/fields.js';
import type { Logger } from '../log/logger.js';
import type { Lifecycle } from '../util/lifecycle.js';
import { isOsType } from '../util/os.js';
import { buildAlert, identityOf } from './alert.js';
import { Allowlist } from './allowlist.js';
import type { Baseline } from './baseline.js';
import type { DetectConfig } from './config.js';
import { allDetectors } from './detectors.js';
import { documentText, Prefilter } from './prefilter.js';
import { LISTENER_ACTIONS } from './types.js';
import type { DetectContext, Detector, Family, Scope } from './types.js';

/** Turns events into alerts. `evaluate` is synchronous; the "fire once" memory and the baseline live inside. */
export interface DetectionEngine extends Lifecycle {
  evaluate(doc: EcsDocument): EcsDocument[];
  /** Every active rule, for `--help`-style listings and docs. */
  rules(): readonly Detector[];
}

export interface EngineOptions {
  config: DetectConfig;
  configFile: string;
  builder: DocumentBuilder;
  logger: Logger;
  /** Learned baseline; undefined switches baseline detection off. */
  baseline: Baseline | undefined;
  /** The rule files' detectors (load.ts `loadRules`, or built from the start-up worker's rules). */
  rules: readonly Detector[];
  /** The "fired once" memory to continue (a reload hands the previous engine's on). */
  fired?: Map<string, true>;
}

const MAX_FIRED = 200_000;
const PROCESS_ACTIONS = new Set<string>([Action.processStart, Action.processExec, Action.alreadyRunning]);

const has = (v: unknown, x: string): boolean => v === x || (Array.isArray(v) && v.includes(x));

/**
 * Which rule family looks at a document, if any. Connection events: ECS network connections
 * (`event.category: network`, `event.type: connection`) that are not listener events, such as
 * Sysmon event 3 through Winlogbeat.
 */
export function familyOf(doc: EcsDocument): Family | undefined {
  if (doc.event.kind === 'alert') return undefined;
  if (LISTENER_ACTIONS.has(doc.event.action)) return 'listener';
  if (PROCESS_ACTIONS.has(doc.event.action) && doc.event.dataset === Dataset.process) return 'process';
  if (has(getField(doc, F.eventCategory), 'network') && has(getField(doc, F.eventType), 'connection')) return 'connection';
  return undefined;
}

class Engine implements DetectionEngine {
  private readonly byFamily: Record<Family, Detector[]> = { listener: [], process: [], connection: [] };
  private readonly prefilters: Record<Family, Prefilter<Detector>>;
  private readonly allow: Allowlist;
  private readonly fired: Map<string, true>;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: EngineOptions) {
    const c = o.config;
    this.fired = o.fired ?? new Map<string, true>();
    const disabled = new Set(c.disabled_rules);
    for (const d of allDetectors({ config: c, baseline: o.baseline, rules: o.rules })) if (!disabled.has(d.meta.id)) this.byFamily[d.meta.family].push(d);
    this.allow = new Allowlist(c.allowlist, o.configFile);
    const b = this.byFamily;
    this.prefilters = { listener: new Prefilter(b.listener), process: new Prefilter(b.process), connection: new Prefilter(b.connection) };
  }

  rules(): readonly Detector[] {
    return [...this.byFamily.listener, ...this.byFamily.process, ...this.byFamily.connection];
  }

  evaluate(doc: EcsDocument): EcsDocument[] {
    if (!this.o.config.enabled) return [];
    const family = familyOf(doc);
    if (family === undefined) return [];
    const osRaw = getField(doc, F.hostOsType);
    const os = isOsType(osRaw) ? osRaw : undefined;
    const t = Date.parse(doc['@timestamp']);
    const ctx: DetectContext = { os, ci: os === 'windows', now: Number.isNaN(t) ? Date.now() : t };
    const scopeRaw = getField(doc, F.listenerScope);
    const out: EcsDocument[] = [];
    // Parent-child rules also run on a listener's owner (its lineage as captured with the listener);
    // the fire-once memory is per process entity, so an owner already flagged at start is not repeated.
    const families: Family[] = family === 'listener' ? ['listener', 'process'] : [family];
    const text = documentText(doc);
    for (const fam of families) {
      const identity = identityOf(doc, fam !== 'process');
      const list = this.byFamily[fam];
      const pre = this.prefilters[fam];
      pre.scan(text);
      for (let i = 0; i < list.length; i++) {
        const d = list[i];
        if (d === undefined || !pre.pass(i)) continue;
        if (d.meta.os.length > 0 && (os === undefined || !d.meta.os.includes(os))) continue;
        if (fam !== family && d.meta.ruleset === 'portwarden-baseline') continue;
        const hit = d.test(doc, ctx);
        if (hit === undefined) continue;
        if (this.allow.allows(d.meta.id, doc, ctx.ci)) continue;
        const key = `${d.meta.id}\u0000${identity}`;
        if (this.fired.has(key)) continue;
        this.remember(key);
        const byScope = typeof scopeRaw === 'string' && fam === 'listener' ? d.meta.severityByScope?.[scopeRaw as Scope] : undefined;
        out.push(buildAlert(this.o.builder, doc, d.meta, hit, hit.severity ?? byScope ?? d.meta.severity));
      }
    }
    return out;
  }

  private remember(key: string): void {
    this.fired.set(key, true);
    if (this.fired.size > MAX_FIRED) {
      const oldest = this.fired.keys().next();
      if (oldest.done !== true) this.fired.delete(oldest.value);
    }
  }

  start(): Promise<void> {
    const b = this.o.baseline;
    if (b !== undefined && this.timer === undefined) {
      this.timer = setInterval(() => { b.save(); }, Math.max(1000, this.o.config.baseline.save_interval));
      this.timer.unref();
    }
    return Promise.resolve();
  }

  flush(): Promise<void> {
    this.o.baseline?.save();
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.o.baseline?.save();
    return Promise.resolve();
  }
}

/** An engine over explicit parts (replay, eval, tests). Throws ConfigError for bad rules or allowlists. */
export function createEngine(o: EngineOptions): DetectionEngine {
  return new Engine(o);
}
