/**
 * "Did you mean" for unknown config keys: the keys the schema accepts at a path (following the
 * discriminated union of outputs by the raw value's `type`), and the closest of them to a typo.
 * Reads zod's schema definitions (`_zod.def`), which is what zod's own JSON-schema export walks.
 */

interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  element?: Schema;
  options?: Schema[];
  shape?: Record<string, Schema>;
  values?: unknown[];
}
interface Schema { _zod: { def: Def } }

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional']);

function unwrap(s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 16; i++) {
    const def = cur._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) cur = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) cur = def.in;
    else break;
  }
  return cur;
}

function field(raw: unknown, key: PropertyKey): unknown {
  return raw !== null && typeof raw === 'object' ? (raw as Record<PropertyKey, unknown>)[key] : undefined;
}

/** The union member whose `type` literal is the raw value's `type`, else the first object member. */
function pickObject(s: Schema, raw: unknown): Schema | undefined {
  const u = unwrap(s);
  if (u._zod.def.type === 'object') return u;
  if (u._zod.def.type !== 'union') return undefined;
  const objects = (u._zod.def.options ?? []).map(unwrap).filter((o) => o._zod.def.type === 'object');
  const want = field(raw, 'type');
  const match = objects.find((o) => {
    const t = o._zod.def.shape?.type;
    return t !== undefined && unwrap(t)._zod.def.values?.includes(want) === true;
  });
  return match ?? objects[0];
}

/** The keys `schema` accepts at `path` of `raw`; empty when the path does not lead to an object. */
export function keysAt(schema: unknown, raw: unknown, path: readonly PropertyKey[]): string[] {
  let s: Schema | undefined = schema as Schema;
  let value = raw;
  for (const seg of path) {
    if (s === undefined) return [];
    if (typeof seg === 'number') {
      s = unwrap(s)._zod.def.element;
    } else {
      s = pickObject(s, value)?._zod.def.shape?.[String(seg)];
    }
    value = field(value, seg);
  }
  const obj = s === undefined ? undefined : pickObject(s, value);
  return Object.keys(obj?._zod.def.shape ?? {});
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] ?? 0;
      row[j] = Math.min(up + 1, (row[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] ?? 0;
}

/** The candidate closest to `word`, if it is close enough to be a typo of it. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
