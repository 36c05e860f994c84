import { configReference } from './config-reference.js';
import { commands, summaries } from '../cli/commands/index.js';
import type { EcsDocument } from '../ecs/document.js';
import { sampleDocuments } from '../ecs/samples.js';
import { exampleSection } from './examples.js';
import type { ExampleSnapshot } from './examples.js';

/**
 * The README sections generated from the code: name -> markdown. `examples` is the recorded host
 * snapshot the example events are built from (docs/examples/host-snapshot.json).
 */
export async function generatedSections(examples: ExampleSnapshot, extraDocs: readonly EcsDocument[] = []): Promise<Record<string, string>> {
  return {
    'ecs-examples': exampleSection(examples),
    'cli-reference': await cliReference(),
    'config-reference': configReference(),
    'ecs-reference': ecsReference([...sampleDocuments(), ...extraDocs], [...sampleDocuments(), ...extraDocs]),
  };
}

async function cliReference(): Promise<string> {
  const loaded = await Promise.all(commands.all());
  return loaded.map((c) => [`### \`portwarden ${c.name}\``, '', `${summaries[c.name] ?? ''}.`, '', '```text', c.help, '```'].join('\n')).join('\n\n');
}

function flatten(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'object') {
    for (const x of v) flatten(x, `${prefix}[]`, out);
  } else {
    out.set(prefix, v);
  }
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return `array of ${v.length > 0 ? jsonType(v[0]) : 'keyword'}`;
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'float';
  if (typeof v === 'boolean') return 'boolean';
  return 'keyword';
}

function example(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// Read from the clock: two builds in the same millisecond agree, so comparing is not enough.
const CLOCK_FIELDS = new Set(['@timestamp', 'event.created', 'event.id']);

/** Every field of every document kind, with its JSON type, the kinds that carry it, an example. */
function ecsReference(docs: readonly EcsDocument[], again: readonly EcsDocument[]): string {
  const fields = new Map<string, { type: string; example: string; kinds: Set<string> }>();
  docs.forEach((d, i) => {
    const flat = new Map<string, unknown>();
    flatten(d, '', flat);
    // A second build of the same documents tells which values vary (ids, clocks): no example for those.
    const other = new Map<string, unknown>();
    flatten(again[i], '', other);
    const kind = d.event.dataset.replace('portwarden.', '');
    for (const [path, v] of flat) {
      const stable = !CLOCK_FIELDS.has(path) && JSON.stringify(other.get(path)) === JSON.stringify(v);
      const f = fields.get(path) ?? { type: jsonType(v), example: stable ? example(v) : '(varies)', kinds: new Set<string>() };
      if (!stable) f.example = '(varies)';
      f.kinds.add(kind);
      fields.set(path, f);
    }
  });
  const rows = [...fields].sort(([a], [b]) => a.localeCompare(b))
    .map(([path, f]) => `| \`${path}\` | ${f.type} | ${[...f.kinds].sort().join(', ')} | \`${f.example.replace(/\|/g, '\\|')}\` |`);
  return ['| field | type | in | example |', '|---|---|---|---|', ...rows].join('\n');
}

const START = (name: string) => `<!-- generated:${name}:start -->`;
const END = (name: string) => `<!-- generated:${name}:end -->`;

/** Replaces each generated section of a README text; throws when a marker is missing. */
export function updateReadme(text: string, sections: Record<string, string>): string {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const s = out.indexOf(START(name));
    const e = out.indexOf(END(name));
    if (s === -1 || e === -1) throw new Error(`README has no ${START(name)} ... ${END(name)} markers`);
    out = `${out.slice(0, s + START(name).length)}\n${body}\n${out.slice(e)}`;
  }
  return out;
}
