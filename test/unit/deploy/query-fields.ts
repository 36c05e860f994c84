/**
 * Small extractors: which fields (and which literal values of them) a query reads. They cover the
 * subset our shipped content uses and are strict enough to fail on what they do not understand.
 */

export interface Extracted {
  fields: string[];
  /** field -> literal values compared against it. */
  values: { field: string; value: string }[];
}

const DOTTED = /(?<![\w.@'"-])(@timestamp|[A-Za-z_][\w@]*(?:\{\})?(?:\.[A-Za-z_@][\w@]*(?:\{\})?)+)(?![\w(])/g;

const uniq = (xs: string[]): string[] => [...new Set(xs)];

function stripStrings(q: string): string {
  return q.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** Literal values in `field == "v"`, `field : "v"`, `field:("a" or "b")`, `field in ("a", "b")`. */
function literalValues(q: string): { field: string; value: string }[] {
  const out: { field: string; value: string }[] = [];
  const re = /([A-Za-z_@][\w.@{}]*)\s*(?:==|:|=|\bin\b|\bIN\b)\s*(\((?:[^()"]|"[^"]*")*\)|"[^"]*")/g;
  for (const m of q.matchAll(re)) {
    const field = m[1] ?? '';
    for (const v of (m[2] ?? '').matchAll(/"([^"]*)"/g)) out.push({ field, value: v[1] ?? '' });
  }
  return out;
}

/** KQL: `field:value` pairs. */
export function kqlFields(q: string): Extracted {
  const bare = stripStrings(q);
  const fields = [...bare.matchAll(/([A-Za-z_@][\w.@]*)\s*:/g)].map((m) => m[1] ?? '');
  return { fields: uniq(fields), values: literalValues(q) };
}

/** EQL: dotted names outside strings, plus `event.category` for each `<category> where`. */
export function eqlFields(q: string): Extracted {
  const bare = stripStrings(q).replace(/maxspan\s*=\s*\w+/g, '');
  const fields = [...bare.matchAll(DOTTED)].map((m) => m[1] ?? '');
  const values = literalValues(q);
  for (const m of bare.matchAll(/\b([a-z_]+)\s+where\b/g)) {
    const category = m[1] ?? '';
    if (category !== 'any') values.push({ field: 'event.category', value: category });
  }
  if (values.some((v) => v.field === 'event.category')) fields.push('event.category');
  return { fields: uniq(fields), values };
}

/** ES|QL: dotted names outside strings, after the FROM source list. */
export function esqlFields(q: string): Extracted {
  const body = stripStrings(q).replace(/^\s*FROM\s+[^|]+/i, '');
  return { fields: uniq([...body.matchAll(DOTTED)].map((m) => m[1] ?? '')), values: literalValues(q) };
}

const SPL_FUNCTIONS = new Set([
  'values', 'dc', 'count', 'min', 'max', 'latest', 'earliest', 'first', 'last', 'sum', 'avg', 'if', 'case', 'coalesce',
  'isnull', 'isnotnull', 'null', 'true', 'lower', 'upper', 'relative_time', 'now', 'tostring', 'tonumber', 'mvjoin',
  'mvcount', 'mvappend', 'strftime', 'strptime', 'round', 'match', 'like', 'mvindex', 'split', 'replace', 'len',
]);
const SPL_WORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'as', 'by', 'where', 'eval', 'stats', 'search', 'table', 'sort', 'fields', 'rename', 'eventstats', 'streamstats', 'tstats', 'from', 'datamodel', 'nodename', 'mvexpand']);
/** Fields Splunk provides itself. */
export const SPLUNK_BUILTIN = new Set(['_time', '_raw', 'host', 'source', 'sourcetype', 'index', 'eventtype', 'tag', 'linecount']);

/**
 * SPL (saved searches, eventtypes, EVAL expressions): dotted names (ECS fields, bare or in single
 * quotes) and the bare names read (CIM fields or names the search defines with `as` / `eval x=`).
 */
export function splFields(q: string): Extracted & { bare: string[]; defined: string[] } {
  const bare = stripStrings(q).replace(/'([^']+)'/g, ' $1 ');
  const fields = [...bare.matchAll(DOTTED)].map((m) => m[1] ?? '');
  const defined = [
    ...[...bare.matchAll(/\bas\s+(\w+)/g)].map((m) => m[1] ?? ''),
    ...[...bare.matchAll(/(?:\beval\s+|,\s*)(\w+)\s*=(?!=)/g)].map((m) => m[1] ?? ''),
  ];
  const names = [...bare.replace(DOTTED, ' ').matchAll(/(?<![\w.:"@/-])([A-Za-z_]\w*)(?![\w.:])/g)]
    .map((m) => m[1] ?? '')
    .filter((n) => !SPL_FUNCTIONS.has(n) && !SPL_WORDS.has(n) && !/^(?:[smhdw]|min|mon)$/.test(n));
  const values = literalValues(q);
  return { fields: uniq(fields), bare: uniq(names), defined: uniq(defined), values };
}
