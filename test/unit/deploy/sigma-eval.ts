/**
 * A small Sigma evaluator for the subset our rules use (field|endswith/startswith/contains/all
 * modifiers, value lists, `and`/`or`/`not`, parentheses, `1 of x_*`, `all of x_*`), applied to
 * ECS documents through the shipped pySigma pipeline (field mapping and log source conditions).
 * It throws on anything outside that subset, so a rule it cannot read fails the test.
 */
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { valuesAt } from './field-check.js';

export interface Pipeline {
  mapping: Record<string, string>;
  /** Log source conditions: `category` -> ECS field -> accepted values. */
  logsources: Map<string, Record<string, string[]>>;
}

type Selection = Record<string, unknown>;

function matchValue(actual: unknown, expected: unknown, mods: string[]): boolean {
  if (typeof expected === 'number' || typeof expected === 'boolean') return actual === expected || String(actual) === String(expected);
  if (typeof expected !== 'string') throw new Error(`unsupported Sigma value ${JSON.stringify(expected)}`);
  if (expected.includes('*') || expected.includes('?')) throw new Error(`wildcards are outside the evaluated subset: ${expected}`);
  const a = String(actual).toLowerCase();
  const e = expected.toLowerCase();
  if (mods.includes('endswith')) return a.endsWith(e);
  if (mods.includes('startswith')) return a.startsWith(e);
  if (mods.includes('contains')) return a.includes(e);
  return a === e;
}

function matchSelection(doc: EcsDocument, sel: Selection, p: Pipeline): boolean {
  return Object.entries(sel).every(([key, expected]) => {
    const [field = '', ...mods] = key.split('|');
    for (const m of mods) if (!['endswith', 'startswith', 'contains', 'all'].includes(m)) throw new Error(`modifier ${m} is outside the evaluated subset`);
    const ecs = p.mapping[field];
    if (ecs === undefined) throw new Error(`Sigma field ${field} has no mapping in the pipeline`);
    const actual = valuesAt(doc, ecs);
    const wanted = Array.isArray(expected) ? expected : [expected];
    const one = (w: unknown) => actual.some((a) => matchValue(a, w, mods));
    return mods.includes('all') ? wanted.every(one) : wanted.some(one);
  });
}

function matchIdentifier(doc: EcsDocument, def: unknown, p: Pipeline): boolean {
  if (Array.isArray(def)) return def.some((d) => matchSelection(doc, d as Selection, p));
  if (def !== null && typeof def === 'object') return matchSelection(doc, def as Selection, p);
  throw new Error('keyword (field-less) selections are outside the evaluated subset');
}

/** Evaluates `condition` over the named selections. */
export function matchCondition(doc: EcsDocument, detection: Record<string, unknown>, p: Pipeline): boolean {
  const condition = detection.condition;
  if (typeof condition !== 'string') throw new Error('condition must be one string');
  const tokens = condition.replace(/[()]/g, ' $& ').trim().split(/\s+/);
  let i = 0;
  const names = Object.keys(detection).filter((k) => k !== 'condition');
  const ident = (name: string) => {
    if (!names.includes(name)) throw new Error(`condition names unknown selection ${name}`);
    return matchIdentifier(doc, detection[name], p);
  };
  const group = (pattern: string): boolean[] => {
    const re = new RegExp(`^${pattern.replace(/\*/g, '.*')}$`);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0) throw new Error(`no selection matches ${pattern}`);
    return hits.map(ident);
  };
  const term = (): boolean => {
    const t = tokens[i++];
    if (t === 'not') return !term();
    if (t === '(') {
      const v = or();
      if (tokens[i++] !== ')') throw new Error('unbalanced parentheses');
      return v;
    }
    if (t === '1' || t === 'all') {
      if (tokens[i++] !== 'of') throw new Error(`expected "of" after ${t}`);
      const results = group(tokens[i++] ?? '');
      return t === '1' ? results.some(Boolean) : results.every(Boolean);
    }
    if (t === undefined) throw new Error('condition ends early');
    return ident(t);
  };
  const and = (): boolean => {
    let v = term();
    while (tokens[i] === 'and') {
      i++;
      const r = term();
      v = v && r;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (tokens[i] === 'or') {
      i++;
      const r = and();
      v = v || r;
    }
    return v;
  };
  const result = or();
  if (i !== tokens.length) throw new Error(`cannot read condition past "${tokens.slice(i).join(' ')}"`);
  return result;
}

/** True when the document belongs to the rule's log source (the pipeline's add_condition). */
export function inLogsource(doc: EcsDocument, category: string, p: Pipeline): boolean {
  const conds = p.logsources.get(category);
  if (conds === undefined) throw new Error(`log source category ${category} is not defined by the pipeline`);
  return Object.entries(conds).every(([field, accepted]) => valuesAt(doc, field).some((v) => accepted.includes(String(v))));
}
