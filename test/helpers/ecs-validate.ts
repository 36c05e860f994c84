import { isIP } from 'node:net';
import { EcsFlat } from '@elastic/ecs';

interface FieldDef {
  type: string;
  normalize?: string[];
  allowed_values?: { name: string; expected_event_types?: string[] }[];
}

const FLAT = EcsFlat as unknown as Record<string, FieldDef>;
/** Custom roots portwarden may write (DESIGN.md). */
const CUSTOM_ROOTS = ['portwarden.', 'process.Ext.'];

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
    return;
  }
  out.set(prefix, value);
}

function typeProblem(def: FieldDef, v: unknown): string | undefined {
  switch (def.type) {
    case 'keyword': case 'constant_keyword': case 'wildcard': case 'match_only_text': case 'flattened':
      return typeof v === 'string' ? undefined : 'expected a string';
    case 'long': case 'integer':
      return typeof v === 'number' && Number.isInteger(v) ? undefined : 'expected an integer';
    case 'float': case 'double': case 'scaled_float':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'expected a number';
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'expected a boolean';
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v) ? undefined : 'expected an ISO 8601 date';
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0 ? undefined : 'expected an IP address';
    default:
      return `unsupported ECS type ${def.type}`;
  }
}

/**
 * Checks a document against the `@elastic/ecs` EcsFlat definitions: every field known to ECS (or
 * under a custom root), the right JSON type, arrays only where ECS normalises to arrays, allowed
 * values, and event.category -> event.type pairs ECS expects. Returns the problems (empty = valid).
 */
export function ecsProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const flat = new Map<string, unknown>();
  flatten(doc, '', flat);
  for (const [path, value] of flat) {
    if (CUSTOM_ROOTS.some((r) => path.startsWith(r))) continue;
    const def = FLAT[path];
    if (def === undefined) {
      problems.push(`${path}: not an ECS field`);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && !(def.normalize ?? []).includes('array')) problems.push(`${path}: ECS does not expect an array`);
    for (const v of values) {
      const p = typeProblem(def, v);
      if (p !== undefined) problems.push(`${path}: ${p}, got ${JSON.stringify(v)}`);
      if (def.allowed_values !== undefined && !def.allowed_values.some((a) => a.name === v)) {
        problems.push(`${path}: ${JSON.stringify(v)} is not an allowed value`);
      }
    }
  }
  const categories = (flat.get('event.category') ?? []) as string[];
  const types = (flat.get('event.type') ?? []) as string[];
  for (const c of categories) {
    const expected = FLAT['event.category']?.allowed_values?.find((a) => a.name === c)?.expected_event_types;
    if (expected === undefined) continue;
    const bad = types.filter((t) => !expected.includes(t));
    // A type is fine when at least one category expects it.
    for (const t of bad) {
      const ok = categories.some((c2) => FLAT['event.category']?.allowed_values?.find((a) => a.name === c2)?.expected_event_types?.includes(t));
      if (!ok) problems.push(`event.type ${t} is not expected for event.category ${c}`);
    }
  }
  for (const required of ['@timestamp', 'event.id', 'event.kind', 'event.dataset', 'ecs.version', 'agent.id', 'host.id']) {
    if (!flat.has(required)) problems.push(`${required}: missing`);
  }
  if (flat.get('data_stream.dataset') !== flat.get('event.dataset')) problems.push('data_stream.dataset differs from event.dataset');
  return problems;
}
