import type { Dataset, Kind } from './fields.js';

/** The `event.*` block every portwarden document carries. */
export interface EcsEventFields {
  id: string;
  kind: Kind;
  category?: string[];
  type?: string[];
  action: string;
  dataset: Dataset;
  module: 'portwarden';
  created: string;
  sequence: number;
  severity?: number;
  risk_score?: number;
  reason?: string;
  start?: string;
  end?: string;
  duration?: number;
  outcome?: 'success' | 'failure' | 'unknown';
}

/**
 * One ECS document as portwarden emits it: nested objects (not dotted keys), JSON-safe values.
 * Producers build it once; transports must never mutate it.
 */
export interface EcsDocument {
  '@timestamp': string;
  message?: string;
  ecs: { version: string };
  event: EcsEventFields;
  [field: string]: unknown;
}

/** Reads a dotted ECS path (`process.parent.name`) from a nested document; undefined when absent. */
export function getField(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  let rest = path;
  while (rest !== '') {
    if (cur === null || typeof cur !== 'object') return undefined;
    const obj = cur as Record<string, unknown>;
    // A key may itself contain dots only for `@timestamp`-style roots; try the longest direct key first.
    if (rest in obj) return obj[rest];
    const dot = rest.indexOf('.');
    const head = dot === -1 ? rest : rest.slice(0, dot);
    cur = obj[head];
    rest = dot === -1 ? '' : rest.slice(dot + 1);
  }
  return cur;
}

/** What a component gives to have an agent event (`portwarden.agent`) built for it. */
export interface AgentEventInput {
  action: string;
  message: string;
  /** `metric` for heartbeats and counters; `event` (default) for happenings such as events_lost. */
  kind?: 'event' | 'metric';
  /** 21 low, 47 medium, 73 high, 99 critical; for problems a SOC should look at. */
  severity?: number;
  /** Extra fields, nested (e.g. `{ portwarden: { pipeline: {...} } }`); never secrets. */
  fields?: Record<string, unknown>;
}

/** Builds a complete, valid ECS `portwarden.agent` document (ids, host, agent, data_stream ...). */
export type AgentEventFactory = (input: AgentEventInput) => EcsDocument;
