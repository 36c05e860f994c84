/**
 * A literal prefilter for rule conditions: from a rule's `when` tree, a set of lower-cased strings
 * of which at least one must occur in the document's text fields for the rule to match. Per event,
 * one Aho-Corasick pass over those fields finds which literals occur; only the rules with a literal
 * found (and the rules without a literal set) are evaluated. With 1,300 Sigma rules an event runs a
 * handful of rules' conditions instead of every one.
 */
import { F } from '../ecs/fields.js';
import { FieldCache, fieldSlot } from './matcher.js';
import { Automaton } from './aho-corasick.js';
import { cost, fold, minimal, regexClauses } from './regex-literals.js';

/** The text fields the prefilter reads; literals of conditions on other fields are not used. */
export const TEXT_FIELDS = [
  F.processExecutable, F.processCommandLine, F.processName, F.processArgs,
  F.processParentExecutable, F.processParentCommandLine, F.processParentName, F.processParentArgs,
  F.processPeOriginalFileName, F.processPeDescription, F.processPeProduct, F.processPeCompany, F.processPeFileVersion,
  F.processWorkingDirectory, F.processHashMd5, F.processHashSha1, F.processHashSha256, F.processPeImphash,
  F.userName, F.userDomain, F.processUserName, F.processParentUserName,
  'qualified.user.name', 'qualified.process.parent.user.name',
  F.destinationIp, F.destinationPort, F.destinationDomain, F.sourceIp, F.sourcePort,
  F.networkDirection, F.networkTransport, F.networkType,
] as const;
const TEXT = new Set<string>(TEXT_FIELDS);
const TEXT_SLOTS = TEXT_FIELDS.map(fieldSlot);

type Lits = string[] | undefined;
const STRING_OPS = new Set(['equals', 'contains', 'startswith', 'endswith']);


function best(sets: Lits[]): Lits {
  let out: Lits;
  for (const s of sets) if (s !== undefined && (out === undefined || cost(s) < cost(out))) out = s;
  return out;
}

function union(sets: Lits[]): Lits {
  if (sets.length === 0 || sets.some((s) => s === undefined)) return undefined;
  return minimal(sets.flatMap((s) => s as string[]));
}

// Lower-casing maps character by character except Greek sigma (final form depends on the next
// character), so a lower-cased literal occurs in the lower-cased text whenever the value holds it.
const usable = (s: string): boolean => s.length > 0 && !/[\u03a3\u03c2\u03c3]/.test(s);

/** A regex operator's value as a source: `re` takes a /source/flags literal, `regex` a bare source. */
const regexSource = (op: string, v: string): string => (op === 're' ? v.slice(1, v.lastIndexOf('/')) : v);

/** The clauses one value of an operator needs (none when unknown). */
function valueClauses(op: string, v: string): Clauses {
  if (STRING_OPS.has(op)) {
    const l = fold(v);
    return usable(l) ? [[l]] : [];
  }
  if (op === 're' || op === 'regex') return regexClauses(regexSource(op, v)).filter((c) => c.every(usable));
  if (op === 'glob') {
    const l = v.replace(/\[[^\]]*\]/g, '*').split(/[*?]/).reduce((a, b) => (b.length > a.length ? b : a), '');
    return usable(l) ? [[fold(l)]] : [];
  }
  return [];
}

/** A field matcher's clauses: its operators must all hold; of an operator's values one (or, with `all`, each). */
function matcherClauses(spec: unknown): Clauses {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    const vals = Array.isArray(spec) ? (spec as unknown[]).flat(3) : [spec];
    const l = vals.map((v) => fold(String(v)));
    return l.every(usable) ? [l] : [];
  }
  const obj = spec as Record<string, unknown>;
  if (obj.not === true) return [];
  const out: Clauses = [];
  for (const [op, raw] of Object.entries(obj)) {
    const per = (Array.isArray(raw) ? raw.flat(3) : [raw]).map((v) => valueClauses(op, String(v)));
    if (per.length === 0) continue;
    if (obj.all === true || per.length === 1) {
      for (const c of per) out.push(...c);
      continue;
    }
    const joined = union(per.map(best));
    if (joined !== undefined) out.push(joined);
  }
  return out;
}

/** A conjunction of literal sets (each must have a literal in the text); undefined: none known. */
export type Clauses = string[][];
const MAX_CLAUSES = 3;

function cnf(node: unknown): Clauses {
  if (Array.isArray(node)) return anyCnf(node);
  if (node === null || typeof node !== 'object') return [];
  const out: Clauses = [];
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'not') continue;
    if (k === 'any') out.push(...(Array.isArray(v) ? anyCnf(v) : []));
    else if (k === 'all') out.push(...(Array.isArray(v) ? v.flatMap(cnf) : []));
    else if (TEXT.has(k)) out.push(...matcherClauses(v));
  }
  return out;
}

// One of the branches holds: the best clause of each branch, joined, is needed.
function anyCnf(nodes: unknown[]): Clauses {
  const joined = union(nodes.map((n) => best(cnf(n))));
  return joined === undefined ? [] : [joined];
}

/**
 * The literal clauses of a condition tree in matcher.ts's format: every clause must have one of its
 * literals in the document's text for the condition to hold (the cheapest few are kept).
 */
export function literalsOf(node: unknown): Clauses | undefined {
  const all = cnf(node).map(minimal);
  if (all.length === 0) return undefined;
  return all.sort((a, b) => cost(a) - cost(b)).slice(0, MAX_CLAUSES);
}

const EMPTY: readonly number[] = [];

/** Aho-Corasick over the literal clauses of a list of detectors; `scan` marks which clauses hold. */
export class Prefilter<T extends { literals?: readonly (readonly string[])[] | undefined }> {
  private readonly automaton: Automaton;
  /** Per literal: the clauses it satisfies. Per item: its clauses (empty: always evaluated). */
  private readonly litClauses: number[][] = [];
  private readonly clauses: number[][];
  private readonly stamp: Int32Array;
  /** Per literal: the generation it was last found in (its clauses are marked once per scan). */
  private readonly litStamp: Int32Array;
  private gen = 0;
  /** Per clause its item; per item how many clauses it has, and how many held (in generation hitGen). */
  private readonly clauseItem: Int32Array;
  private readonly need: Int32Array;
  private readonly hits: Int32Array;
  private readonly hitGen: Int32Array;
  /** Items without clauses, in order; the items whose clauses all held in the last scan. */
  private readonly always: number[] = [];
  private held: number[] = [];

  constructor(readonly items: readonly T[]) {
    const ids = new Map<string, number>();
    let clause = 0;
    this.clauses = items.map((d) => (d.literals ?? []).map((lits) => {
      const c = clause++;
      for (const lit of lits) {
        let id = ids.get(lit);
        if (id === undefined) {
          id = this.litClauses.length;
          ids.set(lit, id);
          this.litClauses.push([]);
        }
        this.litClauses[id]?.push(c);
      }
      return c;
    }));
    this.automaton = new Automaton([...ids.keys()]);
    this.stamp = new Int32Array(clause);
    this.litStamp = new Int32Array(this.litClauses.length);
    this.clauseItem = new Int32Array(clause);
    this.need = new Int32Array(items.length);
    this.hits = new Int32Array(items.length);
    this.hitGen = new Int32Array(items.length);
    this.clauses.forEach((cs, i) => {
      for (const c of cs) this.clauseItem[c] = i;
      this.need[i] = cs.length;
      if (cs.length === 0) this.always.push(i);
    });
  }

  /**
   * Marks the items whose literals occur in `text`; then `pass(i)` says whether item i may match,
   * and `candidates()` lists those that may.
   */
  scan(text: string): void {
    this.gen = (this.gen + 1) | 0 || 1;
    const { stamp, litStamp, litClauses, gen, clauseItem, hits, hitGen, need, automaton: a } = this;
    const { outStart, outIds, dict } = a;
    const held: number[] = [];
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      s = a.step(s, text.charCodeAt(i));
      for (let o = a.firstOutput(s); o > 0; o = dict[o] ?? -1) {
        for (let k = outStart[o] ?? 0, end = outStart[o + 1] ?? 0; k < end; k++) {
          const id = outIds[k] ?? 0;
          if (litStamp[id] === gen) continue;
          litStamp[id] = gen;
          for (const c of litClauses[id] ?? EMPTY) {
            if (stamp[c] === gen) continue;
            stamp[c] = gen;
            const item = clauseItem[c] ?? 0;
            if (hitGen[item] !== gen) { hitGen[item] = gen; hits[item] = 0; }
            if (++(hits[item] as number) === need[item]) held.push(item);
          }
        }
      }
    }
    this.held = held;
  }

  /** The items that may match the last scanned text (those without clauses too), in item order. */
  candidates(): number[] {
    const held = this.held;
    if (held.length === 0) return this.always;
    held.sort((a, b) => a - b);
    if (this.always.length === 0) return held;
    const out: number[] = [];
    const a = this.always;
    let i = 0;
    let j = 0;
    while (i < a.length || j < held.length) {
      const x = a[i] ?? Infinity;
      const y = held[j] ?? Infinity;
      if (x < y) { out.push(x); i++; } else { out.push(y); j++; }
    }
    return out;
  }

  /** Whether item i may match the last scanned text: each of its clauses had a literal there. */
  pass(i: number): boolean {
    for (const c of this.clauses[i] ?? EMPTY) if (this.stamp[c] !== this.gen) return false;
    return true;
  }
}

const textOf = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));

/** The folded (lower-cased) text of a document's TEXT_FIELDS, newline-separated (what `scan` reads). */
export function documentText(doc: unknown, fields = new FieldCache()): string {
  let out = '';
  for (let i = 0; i < TEXT_FIELDS.length; i++) {
    const f = TEXT_FIELDS[i] ?? '';
    // Read as rules read them (qualified.* are made from two fields).
    const vals = fields.get(doc, f, TEXT_SLOTS[i]);
    if (vals === undefined) continue;
    for (const v of vals) out += `${textOf(v)}\n`;
  }
  return fold(out);
}
