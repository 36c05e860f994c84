import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { DocumentBuilder } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import { getField } from '../ecs/document.js';
import { agentVersion } from '../ecs/agent-info.js';
import { F } from '../ecs/fields.js';
import type { HostContext } from '../ecs/host.js';
import { silentLogger } from '../log/logger.js';
import { hostOsType } from '../util/os.js';
import type { OsType } from '../util/os.js';
import type { Logger } from '../log/logger.js';
import { Baseline } from './baseline.js';
import type { DetectConfig } from './config.js';
import { createEngine, familyOf } from './engine.js';
import { loadRules } from './load.js';
import type { DetectionEngine } from './engine.js';
import { StreamLineage } from './stream-lineage.js';

/** This host's OS for offline alerts; the rule packs know no `unix`, so other Unixes count as Linux. */
function offlineOsType(): OsType {
  const t = hostOsType(process.platform);
  return t === 'unix' ? 'linux' : t;
}

/** A DocumentBuilder for alerts raised outside the running agent (replay, eval). */
export function offlineBuilder(): DocumentBuilder {
  const name = hostname().toLowerCase();
  const host: HostContext = {
    id: 'portwarden-replay', name, hostname: name, architecture: process.arch,
    os: { type: offlineOsType(), platform: process.platform },
    ip: [], mac: [], boot: { id: 'replay' },
  };
  return new DocumentBuilder(host, { type: 'portwarden', name, id: randomUUID(), version: agentVersion(), ephemeral_id: randomUUID() });
}

/** An engine with an in-memory baseline that learns from the stream's own first events. */
export function replayEngine(config: DetectConfig, configFile: string, builder: DocumentBuilder, logger: Logger = silentLogger, seed?: unknown): DetectionEngine {
  const b = config.baseline;
  const baseline = b.enabled ? new Baseline({ learningMs: b.learning, maxEntries: b.max_entries, logger }) : undefined;
  if (baseline !== undefined && seed !== undefined) baseline.merge(seed, false);
  return createEngine({ config, configFile, builder, logger, baseline, rules: loadRules(config, configFile) });
}

export interface ReplayStats {
  lines: number;
  invalid: number;
  evaluated: { process: number; listener: number; connection: number };
  alerts: number;
}

export interface ReplayOptions {
  /** host.os.type for documents that have none (foreign exports). */
  defaultOs?: OsType | undefined;
  onAlert(alert: EcsDocument, trigger: EcsDocument): void;
  /** Called for each document after enrichment, with its alerts (eval uses it for scoring). */
  onEvaluated?: (doc: EcsDocument, alerts: EcsDocument[]) => void;
}

function isDoc(v: unknown): v is EcsDocument {
  return v !== null && typeof v === 'object' && typeof getField(v, 'event') === 'object' && getField(v, 'event') !== null;
}

/** Runs the detectors over recorded ECS documents, in order, rebuilding lineage from the stream. */
export class Replayer {
  private readonly lineage = new StreamLineage();
  readonly stats: ReplayStats = { lines: 0, invalid: 0, evaluated: { process: 0, listener: 0, connection: 0 }, alerts: 0 };

  constructor(private readonly engine: DetectionEngine, private readonly o: ReplayOptions) {}

  line(text: string): void {
    if (text.trim() === '') return;
    this.stats.lines++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.stats.invalid++;
      return;
    }
    if (!isDoc(parsed)) {
      this.stats.invalid++;
      return;
    }
    this.doc(parsed);
  }

  doc(raw: EcsDocument): EcsDocument[] {
    let doc = this.lineage.next(raw);
    if (getField(doc, F.hostOsType) === undefined && this.o.defaultOs !== undefined) {
      const host = (doc.host ?? {}) as Record<string, unknown>;
      doc = { ...doc, host: { ...host, os: { ...(host.os as object | undefined), type: this.o.defaultOs } } };
    }
    const family = familyOf(doc);
    if (family === undefined) return [];
    this.stats.evaluated[family]++;
    const alerts = this.engine.evaluate(doc);
    this.stats.alerts += alerts.length;
    for (const a of alerts) this.o.onAlert(a, doc);
    this.o.onEvaluated?.(doc, alerts);
    return alerts;
  }
}
