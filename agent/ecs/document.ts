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
  return readCompiled(doc, PATHS.get(path) ?? compilePath(path));
}

/** The field at `path` when it is a non-empty string; undefined otherwise. */
export function stringField(doc: unknown, path: string): string | undefined {
  const v = getField(doc, path);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The field at `path` as a map-key part: a non-empty string, or a number in decimal (pids, ports). */
export function keyField(doc: unknown, path: string): string | undefined {
  const v = getField(doc, path);
  return typeof v === 'number' ? String(v) : typeof v === 'string' && v !== '' ? v : undefined;
}

function readCompiled(doc: unknown, c: CompiledPath): unknown {
  let cur: unknown = doc;
  const last = c.heads.length - 1;
  for (let i = 0; i < c.heads.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const obj = cur as Record<string, unknown>;
    // At the last key the rest is the key itself: no dotted key to prefer.
    if (i === last) return obj[c.heads[i] ?? ''];
    // A key may itself contain dots only for `@timestamp`-style roots; try the longest direct key first.
    const rest = c.rests[i] ?? '';
    if (rest in obj) return obj[rest];
    cur = obj[c.heads[i] ?? ''];
  }
  return cur;
}

/**
 * A reader for one path, split once: for code that reads the same fields of many documents (the
 * syslog encoders). `fieldReader(p)(doc)` is `getField(doc, p)`.
 */
export function fieldReader(path: string): (doc: unknown) => unknown {
  const c = compilePath(path);
  return (doc) => readCompiled(doc, c);
}

/** A path split once: the key at each level and the rest of the path from there (no slicing per read). */
interface CompiledPath { heads: string[]; rests: string[] }
const PATHS = new Map<string, CompiledPath>();
/** Paths come from code and rules; past this many distinct ones they are split on every read. */
const PATHS_MAX = 4096;

function compilePath(path: string): CompiledPath {
  const heads = path === '' ? [] : path.split('.');
  const c = { heads, rests: heads.map((_, i) => heads.slice(i).join('.')) };
  if (PATHS.size < PATHS_MAX) PATHS.set(path, c);
  return c;
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

/**
 * A deep copy of JSON data (plain objects, arrays, strings, numbers, booleans, null), as documents
 * hold; several times faster than structuredClone for the nested blocks alerts copy. Values with
 * `toJSON` (Date, Buffer) become what JSON.stringify writes for them.
 */
export function cloneJson<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  // A Date or Buffer (toJSON) is copied as it is written out: the alert serializes as its trigger.
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return cloneJson((v as unknown as { toJSON: () => T }).toJSON());
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = cloneJson((v as Record<string, unknown>)[k]);
  return out as T;
}
