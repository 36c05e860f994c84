/**
 * Checks that fields referenced by shipped SIEM content exist in real portwarden events with the
 * type the content expects, and that literal values compared against enumerated fields occur.
 */
import { isIP } from 'node:net';
import { EcsFlat } from '@elastic/ecs';
import type { EcsDocument } from '../../../agent/ecs/document.js';

const FLAT = EcsFlat as unknown as Record<string, { type: string } | undefined>;

/** A field one piece of content reads. */
export interface FieldRef {
  field: string;
  /** Where it comes from, for messages: `elastic rule "..."`. */
  where: string;
  /** Datasets whose events must carry it (all datasets when absent). */
  datasets?: readonly string[];
  /** Expected Elasticsearch type; ECS's type (or the shipped mapping's) when absent. */
  type?: string;
  /** Splunk JSON naming: `a{}.b` only when `a` is an array (see valuesAt). */
  splunk?: boolean;
}

/** A literal compared against a field: `event.action == "listening_started"`. */
export interface ValueRef {
  field: string;
  value: string;
  where: string;
}

/** Fields whose values are a closed set: a literal compared against them must occur in events. */
export const ENUMERATED = new Set([
  'event.action', 'event.dataset', 'event.kind', 'event.category', 'event.type', 'event.module',
  'network.transport', 'network.type', 'portwarden.listener.scope', 'host.os.type', 'data_stream.type',
]);

/**
 * Values at a dotted path, arrays flattened at every level (as Elasticsearch indexes them). With
 * `splunk`, a segment ending in `{}` must be an array there and one without must not be an array,
 * as Splunk's KV_MODE=json names them (`event.category{}`, `a{}.b`); otherwise `{}` is ignored.
 */
export function valuesAt(doc: unknown, path: string, splunk = false): unknown[] {
  let cur: unknown[] = [doc];
  for (const raw of path.split('.')) {
    const isArray = raw.endsWith('{}');
    const seg = isArray ? raw.slice(0, -2) : raw;
    const next: unknown[] = [];
    for (const c of cur) {
      if (c === null || typeof c !== 'object' || Array.isArray(c)) continue;
      const v = (c as Record<string, unknown>)[seg];
      if (v === undefined || v === null) continue;
      if (splunk && Array.isArray(v) !== isArray) continue;
      if (Array.isArray(v)) next.push(...(v as unknown[]));
      else next.push(v);
    }
    cur = next;
  }
  return cur;
}

/** Problem with one value for an Elasticsearch field type, or undefined. */
export function typeProblem(type: string, v: unknown): string | undefined {
  switch (type) {
    case 'keyword': case 'constant_keyword': case 'wildcard': case 'match_only_text': case 'text':
      return typeof v === 'string' ? undefined : 'expected a string';
    case 'long': case 'integer': case 'short': case 'unsigned_long':
      return typeof v === 'number' && Number.isInteger(v) ? undefined : 'expected an integer';
    case 'float': case 'double': case 'scaled_float': case 'half_float':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'expected a number';
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'expected a boolean';
    case 'date':
      return typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(Date.parse(v)) ? undefined : 'expected an ISO 8601 date';
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0 ? undefined : 'expected an IP address';
    case 'flattened': case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : 'expected an object';
    default:
      return `no check for type ${type}`;
  }
}

/** The type a field is expected to have: explicit, ECS's, or the shipped mapping's. */
export function expectedType(ref: FieldRef, mapped: ReadonlyMap<string, string>): string | undefined {
  const plain = ref.field.replace(/\{\}/g, '');
  return ref.type ?? FLAT[plain]?.type ?? mapped.get(plain);
}

/** Every problem with the references against the sample events (empty: all fine). */
export function checkRefs(refs: readonly FieldRef[], docs: readonly EcsDocument[], mapped: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const ref of refs) {
    const type = expectedType(ref, mapped);
    if (type === undefined) {
      problems.push(`${ref.where}: ${ref.field} is neither an ECS field nor in the shipped mapping`);
      continue;
    }
    const pool = ref.datasets === undefined ? docs : docs.filter((d) => ref.datasets?.includes(d.event.dataset) === true);
    const values = pool.flatMap((d) => valuesAt(d, ref.field, ref.splunk === true));
    if (values.length === 0) {
      problems.push(`${ref.where}: no ${ref.datasets?.join('/') ?? ''} event has ${ref.field}`);
      continue;
    }
    for (const v of values) {
      const p = typeProblem(type, v);
      if (p !== undefined) {
        problems.push(`${ref.where}: ${ref.field} ${p} (${type}), got ${JSON.stringify(v)}`);
        break;
      }
    }
  }
  return problems;
}

/** Literals compared against enumerated fields that no event carries (e.g. a misspelt action). */
export function checkValues(refs: readonly ValueRef[], docs: readonly EcsDocument[]): string[] {
  const problems: string[] = [];
  for (const ref of refs) {
    if (!ENUMERATED.has(ref.field)) continue;
    const seen = new Set(docs.flatMap((d) => valuesAt(d, ref.field)).map(String));
    if (!seen.has(ref.value)) problems.push(`${ref.where}: ${ref.field} is never "${ref.value}" (seen: ${[...seen].sort().join(', ')})`);
  }
  return problems;
}

/** Flattened `properties` of an Elasticsearch mapping: path -> type. */
export function mappingFields(properties: Record<string, unknown>, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [name, def] of Object.entries(properties)) {
    const d = def as { type?: string; properties?: Record<string, unknown> };
    const path = prefix === '' ? name : `${prefix}.${name}`;
    if (d.properties !== undefined) mappingFields(d.properties, path, out);
    else if (d.type !== undefined) out.set(path, d.type);
  }
  return out;
}
