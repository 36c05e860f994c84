import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { getField } from '../ecs/document.js';
import { F } from '../ecs/fields.js';
import { clauseGate, fold, regexClauses } from './regex-literals.js';
import { keepRecent } from './recent-strings.js';
import { parseWildcard, wildcardTest } from './wildcard-match.js';

/**
 * The condition language of detection rules (built-in packs and user YAML alike).
 *
 * A node is a selection (`{ "process.parent.name": [w3wp.exe, httpd.exe], "process.name": cmd.exe }`,
 * every key must hold), `{ all: [node...] }`, `{ any: [node...] }`, `{ not: node }`, or a list of
 * nodes (any of them). A field matcher is a scalar (equals), a list (equals any), or an object of
 * operators that must all hold. Pseudo-field `ancestor.<field>` holds when any ancestor in
 * `portwarden.lineage` matches; `qualified.<user name field>` is `DOMAIN\name` (QUALIFIED_DOMAIN).
 * A condition on an absent field is false, negated or not.
 */
export type Evidence = string[];
/** `fields`: the values already read from this document (one evaluation of many rules shares it). */
export type Predicate = (doc: unknown, ci: boolean, fields?: FieldCache) => Evidence | undefined;

/** Evidence of a condition that names no value (a `not`, an empty `all`); never mutated. */
const NO_EVIDENCE = Object.freeze([]) as unknown as Evidence;

/** Field paths by number, so that a document's values are kept in an array, not a map per event. */
const SLOTS = new Map<string, number>();
/** The number of a field path (the same for every rule and engine). */
export function fieldSlot(field: string): number {
  let n = SLOTS.get(field);
  if (n === undefined) {
    n = SLOTS.size;
    SLOTS.set(field, n);
  }
  return n;
}

/**
 * The values of the fields rules read from one document, each read once for all rules (the engine
 * makes one per engine and resets it for every event).
 */
export class FieldCache {
  private doc: unknown;
  private gen = 1;
  private readonly values: (unknown[] | undefined)[] = [];
  private readonly gens: number[] = [];

  /** Forget the values read so far (the next document, or the same one changed). */
  reset(): void {
    this.doc = undefined;
    this.gen++;
  }

  get(doc: unknown, field: string, slot = fieldSlot(field)): unknown[] | undefined {
    if (doc !== this.doc) {
      this.doc = doc;
      this.gen++;
    }
    if (this.gens[slot] === this.gen) return this.values[slot];
    const v = readValues(doc, field);
    this.values[slot] = v;
    this.gens[slot] = this.gen;
    return v;
  }
}

export const OPERATORS = ['equals', 'startswith', 'endswith', 'contains', 'regex', 're', 'glob', 'cidr', 'exists', 'range', 'differs_from', 'same_as'] as const;
export const MODIFIERS = ['all', 'not', 'case_sensitive'] as const;

/** Thrown while compiling; `path` is the key path inside the rule. */
export class RuleSyntaxError extends Error {
  constructor(readonly path: (string | number)[], message: string) {
    super(message);
  }
}

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

function scalars(v: unknown, path: (string | number)[]): Scalar[] {
  // Nested lists are flattened so YAML anchors of lists can be combined: [*shells, *lolbins].
  const list = Array.isArray(v) ? (v as unknown[]).flat(3) : [v];
  if (list.length === 0) throw new RuleSyntaxError(path, 'expected at least one value');
  list.forEach((x, i) => {
    if (!isScalar(x)) throw new RuleSyntaxError(Array.isArray(v) ? [...path, i] : path, `expected a string, number or boolean, got ${JSON.stringify(x)}`);
  });
  return list as Scalar[];
}

/** Shell-style glob (`*`, `?`, `[abc]`) to an anchored regular expression source. */
export function globSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else if (ch === '[' || ch === ']') out += ch;
    else out += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return `^${out}$`;
}

type Test = (value: string, ci: boolean) => boolean;
/** A test of one pattern against a value already lower-cased when `sensitive` is false. */
type PatternTest = (value: string, sensitive: boolean) => boolean;

function stringTest(op: string, raw: Scalar, path: (string | number)[]): PatternTest {
  const exact = String(raw);
  const lower = exact.toLowerCase();
  switch (op) {
    case 'equals': return (v, cs) => v === (cs ? exact : lower);
    case 'startswith': return (v, cs) => v.startsWith(cs ? exact : lower);
    case 'endswith': return (v, cs) => v.endsWith(cs ? exact : lower);
    case 'contains': return (v, cs) => v.includes(cs ? exact : lower);
    case 'regex':
    case 'glob': {
      const src = op === 'glob' ? globSource(exact) : exact;
      let sens: RegExp; let ins: RegExp;
      try {
        sens = new RegExp(src, 'u');
        ins = new RegExp(src, 'iu');
      } catch (err) {
        throw new RuleSyntaxError(path, `invalid ${op}: ${(err as Error).message}`);
      }
      const gate = clauseGate(regexClauses(src, 1));
      if (gate === undefined) return (v, cs) => (cs ? sens : ins).test(v);
      return (v, cs) => gate(folded(v)) && (cs ? sens : ins).test(v);
    }
    case 're': {
      // A JavaScript regex literal, /source/flags: its own flags decide case (Sigma's `re`).
      const m = /^\/([\s\S]*)\/([gimsuy]*)$/.exec(exact);
      if (m === null) throw new RuleSyntaxError(path, 'expected a regex literal /source/flags');
      let re: RegExp;
      const flags = (m[2] ?? '').replace(/[gy]/g, '');
      try {
        re = new RegExp(m[1] ?? '', flags);
      } catch (err) {
        throw new RuleSyntaxError(path, `invalid re: ${(err as Error).message}`);
      }
      // Literals and `[\s\S]*` only (Sigma wildcards): linear, not V8's backtracking (wildcard-match.ts).
      const wild = parseWildcard(m[1] ?? '', flags);
      const test = wild === undefined ? (v: string) => re.test(v) : wildcardTest(wild, flags === 'i');
      const gate = clauseGate(regexClauses(m[1] ?? '', 1));
      if (gate === undefined) return test;
      return (v) => gate(folded(v)) && test(v);
    }
    default:
      throw new RuleSyntaxError(path, `unknown operator "${op}" (expected one of ${OPERATORS.join(', ')}, with modifiers ${MODIFIERS.join(', ')})`);
  }
}

// The same field values are lower-cased by many rules per event: keep the last few (strings from
// one document are the same objects, so the lookup hashes each once).
const lower = keepRecent((v) => v.toLowerCase());

// Regexes are first checked for the literals they need (regex-literals.ts), in the folded value.
const folded = keepRecent(fold);

/** All patterns of one operator; the value is lower-cased once, equals lists are set lookups. */
function listTest(op: string, raws: Scalar[], path: (string | number)[], forceCase: boolean | undefined, all: boolean): Test {
  if (op === 'equals' && !all) {
    const exact = new Set(raws.map(String));
    const lowerSet = new Set(raws.map((r) => String(r).toLowerCase()));
    return (v, ci) => ((forceCase ?? !ci) ? exact.has(v) : lowerSet.has(lower(v)));
  }
  if (op === 'cidr') return cidrTest(raws, path);
  const tests = raws.map((r) => stringTest(op, r, path));
  if (op === 're') return (v) => (all ? tests.every((t) => t(v, true)) : tests.some((t) => t(v, true)));
  return (v, ci) => {
    const cs = forceCase ?? !ci;
    const val = cs ? v : lower(v);
    return all ? tests.every((t) => t(val, cs)) : tests.some((t) => t(val, cs));
  };
}

/** `cidr`: the value is an IP address inside any of the networks (10.0.0.0/8, fd00::/8). */
function cidrTest(raws: Scalar[], path: (string | number)[]): Test {
  const list = new BlockList();
  raws.forEach((r, i) => {
    const [net = '', bits = ''] = String(r).split('/');
    const type = isIPv4(net) ? 'ipv4' : isIPv6(net) ? 'ipv6' : undefined;
    const prefix = Number(bits);
    if (type === undefined || !/^\d+$/.test(bits) || prefix > (type === 'ipv4' ? 32 : 128)) {
      throw new RuleSyntaxError(raws.length > 1 ? [...path, i] : path, `expected a CIDR like 10.0.0.0/8 or fd00::/8, got "${String(r)}"`);
    }
    list.addSubnet(net, prefix, type);
  });
  return (v) => {
    const ip = v.startsWith('::ffff:') && isIPv4(v.slice(7)) ? v.slice(7) : v;
    return isIPv4(ip) ? list.check(ip, 'ipv4') : isIPv6(ip) ? list.check(ip, 'ipv6') : false;
  };
}

function valuesOf(doc: unknown, field: string, fields: FieldCache | undefined, slot: number): unknown[] | undefined {
  return fields === undefined ? readValues(doc, field) : fields.get(doc, field, slot);
}

/**
 * `qualified.<user name field>`: the account as Windows (Sysmon's User) writes it, `DOMAIN\name`
 * when the user's domain is known, else the name alone. The documents keep ECS's name and domain.
 */
export const QUALIFIED_DOMAIN: Readonly<Record<string, string>> = {
  'user.name': F.userDomain,
  'process.user.name': F.userDomain,
  'process.parent.user.name': 'portwarden.process.parent_user_domain',
};

function qualified(doc: unknown, nameField: string): unknown[] | undefined {
  const name = getField(doc, nameField);
  if (typeof name !== 'string' || name === '') return undefined;
  // A name already written DOMAIN\name (a recording that did not split it) is that form itself.
  if (name.includes('\\')) return [name];
  const domainField = QUALIFIED_DOMAIN[nameField];
  const domain = domainField === undefined ? undefined : getField(doc, domainField);
  return [typeof domain === 'string' && domain !== '' ? `${domain}\\${name}` : name];
}

/** Values of a field: ancestors' for `ancestor.*`, array elements, else the single value. */
function readValues(doc: unknown, field: string): unknown[] | undefined {
  if (field.startsWith('qualified.')) return qualified(doc, field.slice('qualified.'.length));
  if (field.startsWith('ancestor.')) {
    const lineage = getField(doc, F.lineage);
    if (!Array.isArray(lineage)) return undefined;
    const sub = field.slice('ancestor.'.length);
    const vals = lineage.map((a) => getField(a, sub)).filter((v) => v !== undefined && v !== null);
    return vals.length === 0 ? undefined : vals;
  }
  const v = getField(doc, field);
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? (v as unknown[]) : [v];
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** One field's matcher. */
export function compileField(field: string, spec: unknown, path: (string | number)[]): Predicate {
  const slot = fieldSlot(field);
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    return fieldPredicate(field, listTest('equals', scalars(spec, path), path, undefined, false));
  }
  const obj = spec as Record<string, unknown>;
  const negate = obj.not === true;
  const all = obj.all === true;
  const cs = obj.case_sensitive;
  if (cs !== undefined && typeof cs !== 'boolean') throw new RuleSyntaxError([...path, 'case_sensitive'], 'expected true or false');
  for (const m of ['not', 'all'] as const) {
    if (obj[m] !== undefined && typeof obj[m] !== 'boolean') throw new RuleSyntaxError([...path, m], 'expected true or false');
  }
  const parts: Predicate[] = [];
  for (const [op, raw] of Object.entries(obj)) {
    if ((MODIFIERS as readonly string[]).includes(op)) continue;
    const p = [...path, op];
    if (op === 'exists') {
      if (typeof raw !== 'boolean') throw new RuleSyntaxError(p, 'expected true or false');
      parts.push((doc, _ci, fc) => ((valuesOf(doc, field, fc, slot) !== undefined) === raw ? [`${field} ${raw ? 'present' : 'absent'}`] : undefined));
      continue;
    }
    if (op === 'range') {
      if (!Array.isArray(raw) || raw.length !== 2 || !raw.every((n) => typeof n === 'number')) throw new RuleSyntaxError(p, 'expected [low, high] numbers');
      const [lo, hi] = raw as [number, number];
      parts.push(fieldPredicate(field, (v) => Number(v) >= lo && Number(v) <= hi));
      continue;
    }
    if (op === 'differs_from' || op === 'same_as') {
      if (typeof raw !== 'string') throw new RuleSyntaxError(p, 'expected a field path');
      const want = op === 'same_as';
      const other = fieldSlot(raw);
      parts.push((doc, ci, fc) => {
        const a = valuesOf(doc, field, fc, slot)?.[0];
        const b = valuesOf(doc, raw, fc, other)?.[0];
        if (a === undefined || b === undefined) return undefined;
        const fold = ci && cs !== true;
        const x = fold ? lower(show(a)) : show(a);
        const y = fold ? lower(show(b)) : show(b);
        return (x === y) === want ? [`${field}=${show(a)} ${want ? '=' : '!='} ${raw}=${show(b)}`] : undefined;
      });
      continue;
    }
    parts.push(fieldPredicate(field, listTest(op, scalars(raw, p), p, cs, all)));
  }
  if (parts.length === 0) throw new RuleSyntaxError(path, `no operator (expected one of ${OPERATORS.join(', ')})`);
  const joined: Predicate = parts.length === 1 ? (parts[0] as Predicate) : allOf(parts);
  if (!negate) return joined;
  return (doc, ci, fc) => {
    const vals = valuesOf(doc, field, fc, slot);
    if (vals === undefined) return undefined;
    return joined(doc, ci, fc) === undefined ? [`${field}=${vals.map(show).join(',')} (not listed)`] : undefined;
  };
}

function fieldPredicate(field: string, test: Test): Predicate {
  const slot = fieldSlot(field);
  return (doc, ci, fc) => {
    const vals = valuesOf(doc, field, fc, slot);
    if (vals === undefined) return undefined;
    for (const v of vals) {
      if (typeof v === 'string' ? test(v, ci) : isScalar(v) && test(String(v), ci)) return [`${field}=${show(v)}`];
    }
    return undefined;
  };
}

const BOOL_KEYS = new Set(['all', 'any', 'not']);

/** A node of the boolean tree. */
export function compileNode(node: unknown, path: (string | number)[]): Predicate {
  if (Array.isArray(node)) return anyOf(node.map((n, i) => compileNode(n, [...path, i])), path);
  if (node === null || typeof node !== 'object') throw new RuleSyntaxError(path, 'expected a selection (field: matcher) or all/any/not');
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 0) throw new RuleSyntaxError(path, 'empty selection');
  // all/any/not may stand beside field keys; everything in one mapping must hold.
  const ps = keys.map((k) => (BOOL_KEYS.has(k) ? compileBool(k as 'all' | 'any' | 'not', obj[k], [...path, k]) : compileField(k, obj[k], [...path, k])));
  return ps.length === 1 ? (ps[0] as Predicate) : allOf(ps);
}

function compileBool(k: 'all' | 'any' | 'not', inner: unknown, path: (string | number)[]): Predicate {
  if (k === 'not') {
    const p = compileNode(inner, path);
    return (doc, ci, fc) => (p(doc, ci, fc) === undefined ? NO_EVIDENCE : undefined);
  }
  if (!Array.isArray(inner)) throw new RuleSyntaxError(path, 'expected a list of conditions');
  const ps = inner.map((n, i) => compileNode(n, [...path, i]));
  return k === 'any' ? anyOf(ps, path) : allOf(ps);
}

function allOf(ps: Predicate[]): Predicate {
  return (doc, ci, fc) => {
    let ev: Evidence | undefined;
    for (const p of ps) {
      const r = p(doc, ci, fc);
      if (r === undefined) return undefined;
      if (r.length > 0) {
        if (ev === undefined) ev = [...r];
        else ev.push(...r);
      }
    }
    return ev ?? NO_EVIDENCE;
  };
}

function anyOf(ps: Predicate[], path: (string | number)[]): Predicate {
  if (ps.length === 0) throw new RuleSyntaxError(path, 'expected at least one condition');
  return (doc, ci, fc) => {
    for (const p of ps) {
      const r = p(doc, ci, fc);
      if (r !== undefined) return r;
    }
    return undefined;
  };
}
