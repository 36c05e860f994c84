/**
 * Evaluates the EQL `sequence` subset our rules use over sample documents: shared `by` keys,
 * per-step `by` keys, `<category> where` with `field == "v"` / `field in ("a", "b")` joined by
 * `and`. Throws on anything else, so a rule outside the subset fails loudly.
 */
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { valuesAt } from './field-check.js';

interface Step { category: string; conds: { field: string; values: string[] }[]; by: string[] }

function parseStep(body: string, by: string | undefined): Step {
  const m = /^\s*([a-z_]+)\s+where\s+(.+)$/s.exec(body);
  if (m === null) throw new Error(`cannot read sequence step [${body}]`);
  const conds = (m[2] ?? '').split(/\s+and\s+/).map((c) => {
    const eq = /^\s*([\w.@]+)\s*==\s*"([^"]*)"\s*$/.exec(c);
    if (eq !== null) return { field: eq[1] ?? '', values: [eq[2] ?? ''] };
    const inn = /^\s*([\w.@]+)\s+in\s+\(([^)]*)\)\s*$/.exec(c);
    if (inn !== null) return { field: inn[1] ?? '', values: [...(inn[2] ?? '').matchAll(/"([^"]*)"/g)].map((v) => v[1] ?? '') };
    throw new Error(`condition outside the evaluated subset: ${c}`);
  });
  return { category: m[1] ?? '', conds, by: by === undefined ? [] : by.split(',').map((s) => s.trim()) };
}

export function parseSequence(q: string): { by: string[]; steps: Step[] } {
  const head = /^\s*sequence(?:\s+by\s+([\w.@,\s]+?))?\s+with\s+maxspan=\w+\s*/.exec(q);
  if (head === null) throw new Error('not a sequence with maxspan');
  const steps: Step[] = [];
  const re = /\[([^\]]+)\](?:\s+by\s+([\w.@,\s]+?))?(?=\s*\[|\s*$)/g;
  for (const m of q.slice(head[0].length).matchAll(re)) steps.push(parseStep(m[1] ?? '', m[2]));
  return { by: head[1] === undefined ? [] : head[1].split(',').map((s) => s.trim()), steps };
}

function matches(doc: EcsDocument, s: Step): boolean {
  if (s.category !== 'any' && !valuesAt(doc, 'event.category').includes(s.category)) return false;
  return s.conds.every((c) => valuesAt(doc, c.field).some((v) => c.values.includes(String(v))));
}

const key = (doc: EcsDocument, fields: string[]): string | undefined => {
  const parts = fields.map((f) => valuesAt(doc, f)[0]);
  return parts.some((p) => p === undefined) ? undefined : JSON.stringify(parts);
};

/** Ordered chains of documents (one per step) that the sequence would match; empty when none. */
export function sequenceMatches(q: string, docs: readonly EcsDocument[]): EcsDocument[][] {
  const seq = parseSequence(q);
  if (seq.steps.length < 2) throw new Error('a sequence needs two steps');
  let chains: EcsDocument[][] = docs.filter((d) => matches(d, seq.steps[0] as Step)).map((d) => [d]);
  for (let i = 1; i < seq.steps.length; i++) {
    const step = seq.steps[i] as Step;
    const prevStep = seq.steps[i - 1] as Step;
    const next: EcsDocument[][] = [];
    for (const chain of chains) {
      const last = chain[chain.length - 1] as EcsDocument;
      for (const d of docs.filter((x) => matches(x, step))) {
        if (Date.parse(d['@timestamp']) < Date.parse(last['@timestamp'])) continue;
        const a = key(last, [...seq.by, ...prevStep.by]);
        const b = key(d, [...seq.by, ...step.by]);
        if (a !== undefined && a === b) next.push([...chain, d]);
      }
    }
    chains = next;
  }
  return chains;
}
