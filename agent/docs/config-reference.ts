import type { z } from 'zod';
import { configSchema, outputSchemas } from '../app/config-schema.js';

/**
 * Generates the config reference (README "Configuration reference") from the zod schema itself,
 * so the docs cannot drift: a test compares the README with this output.
 */
interface Row { key: string; type: string; default: string; doc: string }

type AnySchema = z.ZodType;

function def(s: AnySchema): { type: string; [k: string]: unknown } {
  return (s as unknown as { _zod: { def: { type: string; [k: string]: unknown } } })._zod.def;
}

function describe(s: AnySchema): string | undefined {
  return (s as unknown as { description?: string }).description;
}

/** Peels wrappers; collects the default and the innermost description. */
function unwrap(s: AnySchema): { core: AnySchema; dflt?: unknown; doc?: string; optional: boolean } {
  let cur = s;
  let dflt: unknown;
  let doc = describe(s);
  let optional = false;
  for (;;) {
    const d = def(cur);
    if (d.type === 'default' || d.type === 'prefault') {
      const v = d.defaultValue;
      dflt ??= typeof v === 'function' ? (v as () => unknown)() : v;
      cur = d.innerType as AnySchema;
    } else if (d.type === 'optional') {
      optional = true;
      cur = d.innerType as AnySchema;
    } else if (d.type === 'pipe') {
      cur = d.in as AnySchema;
    } else {
      break;
    }
    doc ??= describe(cur);
  }
  return { core: cur, ...(dflt === undefined ? {} : { dflt }), ...(doc === undefined ? {} : { doc }), optional };
}

function typeName(s: AnySchema): string {
  const d = def(s);
  switch (d.type) {
    case 'enum': return Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal': return (d.values as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'union': {
      const opts = (d.options as AnySchema[]).map((o) => typeName(unwrap(o).core));
      // number|string unions are durations and sizes in this schema.
      return opts.includes('number') && opts.includes('string') ? 'duration/size' : opts.join(' \\| ');
    }
    case 'array': return `list of ${typeName(unwrap(d.element as AnySchema).core)}`;
    case 'object': return 'map';
    default: return d.type;
  }
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'object' && v !== null && Object.keys(v).length === 0) return '';
  return `\`${JSON.stringify(v)}\``;
}

function walk(s: AnySchema, prefix: string, rows: Row[]): void {
  const { core, dflt, doc, optional } = unwrap(s);
  const d = def(core);
  if (prefix !== '') {
    rows.push({ key: prefix, type: typeName(core) + (optional ? ' (optional)' : ''), default: fmtDefault(dflt), doc: doc ?? '' });
  }
  if (d.type === 'object' && !prefix.endsWith('outputs[]')) {
    for (const [k, v] of Object.entries(d.shape as Record<string, AnySchema>)) walk(v, prefix === '' ? k : `${prefix}.${k}`, rows);
  }
}

function table(rows: Row[]): string {
  const esc = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return ['| key | type | default | description |', '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${r.type} | ${r.default} | ${esc(r.doc)} |`)].join('\n');
}

export function configReference(): string {
  const top: Row[] = [];
  walk(configSchema, '', top);
  const parts = [table(top.filter((r) => !r.key.startsWith('outputs')))];
  parts.push('', '### `outputs[]`', '', 'Every output has `type` plus the keys of its type below; `name`, `batch.*` and `retry.*` apply to all.');
  for (const schema of outputSchemas()) {
    const rows: Row[] = [];
    walk(schema, '', rows);
    const type = rows.find((r) => r.key === 'type')?.type ?? '?';
    parts.push('', `#### type: ${type}`, '', table(rows.filter((r) => r.key !== 'type')));
  }
  return parts.join('\n');
}
