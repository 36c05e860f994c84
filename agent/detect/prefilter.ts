/**
 * A literal prefilter for rule conditions: from a rule's `when` tree, a set of lower-cased strings
 * of which at least one must occur in the document's text fields for the rule to match. Per event,
 * one Aho-Corasick pass over those fields finds which literals occur; only the rules with a literal
 * found (and the rules without a literal set) are evaluated. With 1,300 Sigma rules an event runs a
 * handful of rules' conditions instead of every one.
 */
import { getField } from '../ecs/document.js';

/** The text fields the prefilter reads; literals of conditions on other fields are not used. */
export const TEXT_FIELDS = [
  'process.executable', 'process.command_line', 'process.name', 'process.args',
  'process.parent.executable', 'process.parent.command_line', 'process.parent.name', 'process.parent.args',
  'process.pe.original_file_name', 'process.pe.description', 'process.pe.product', 'process.pe.company', 'process.pe.file_version',
  'process.working_directory', 'process.hash.md5', 'process.hash.sha1', 'process.hash.sha256', 'process.pe.imphash',
  'user.name', 'user.domain', 'process.user.name', 'process.parent.user.name',
  'destination.ip', 'destination.port', 'destination.domain', 'source.ip', 'source.port',
  'network.direction', 'network.transport', 'network.type',
] as const;
const TEXT = new Set<string>(TEXT_FIELDS);

type Lits = string[] | undefined;
const STRING_OPS = new Set(['equals', 'contains', 'startswith', 'endswith']);

/** Cost of checking a literal set: short literals occur often, many literals make many candidates. */
function cost(l: string[]): number {
  return l.reduce((a, s) => a + 1 / Math.min(s.length, 16) ** 2, 0);
}

function best(sets: Lits[]): Lits {
  let out: Lits;
  for (const s of sets) if (s !== undefined && (out === undefined || cost(s) < cost(out))) out = s;
  return out;
}

function union(sets: Lits[]): Lits {
  if (sets.length === 0 || sets.some((s) => s === undefined)) return undefined;
  return [...new Set(sets.flatMap((s) => s as string[]))];
}

// Lower-casing maps character by character except Greek sigma (final form depends on the next
// character), so a lower-cased literal occurs in the lower-cased text whenever the value holds it.
const usable = (s: string): boolean => s.length > 0 && !/[\u03a3\u03c2\u03c3]/.test(s);

/** The longest run of characters a regex source must contain literally; undefined when unsure. */
export function regexLiteral(src: string): string | undefined {
  if (/[|()]/.test(src.replace(/\\[\s\S]/g, ''))) return undefined;
  let bestRun = '';
  let run = '';
  const flush = () => { if (run.length > bestRun.length) bestRun = run; run = ''; };
  for (let i = 0; i < src.length; i++) {
    const ch = src.charAt(i);
    let lit: string | undefined;
    if (ch === '\\') {
      const n = src[++i] ?? '';
      if (/[0-9cxupPk]/.test(n)) return undefined; // escapes with operands: keep it simple
      if (/[A-Za-z]/.test(n)) { flush(); continue; }
      lit = n;
    } else if (ch === '[') {
      flush();
      while (i < src.length && src[i] !== ']') i += src[i] === '\\' ? 2 : 1;
      continue;
    } else if ('.^$'.includes(ch)) {
      flush();
      continue;
    } else if ('*+?{'.includes(ch)) {
      // A quantifier on a class or escape (a literal's own quantifier is read below).
      flush();
      if (ch === '{') {
        const close = src.indexOf('}', i);
        if (close < 0) return undefined;
        i = close;
      }
      continue;
    } else {
      lit = ch;
    }
    const q = src[i + 1];
    if (q === '*' || q === '?' || q === '{') {
      flush();
      const close = q === '{' ? src.indexOf('}', i) : i + 1;
      if (close < 0) return undefined;
      i = close;
      continue;
    }
    run += lit;
    if (q === '+') { flush(); i++; }
  }
  flush();
  return bestRun.length >= 2 ? bestRun.toLowerCase() : undefined;
}

function matcherLits(spec: unknown): Lits {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    const vals = Array.isArray(spec) ? (spec as unknown[]).flat(3) : [spec];
    const l = vals.map((v) => String(v).toLowerCase());
    return l.every(usable) ? l : undefined;
  }
  const obj = spec as Record<string, unknown>;
  if (obj.not === true) return undefined;
  const sets: Lits[] = [];
  for (const [op, raw] of Object.entries(obj)) {
    const vals = (Array.isArray(raw) ? raw.flat(3) : [raw]).map((v) => String(v));
    let l: Lits;
    if (STRING_OPS.has(op)) l = vals.map((v) => v.toLowerCase());
    else if (op === 're' || op === 'regex') l = vals.map((v) => regexLiteral(op === 're' ? v.slice(1, v.lastIndexOf('/')) : v) ?? '');
    else if (op === 'glob') l = vals.map((v) => v.replace(/\[[^\]]*\]/g, '*').split(/[*?]/).reduce((a, b) => (b.length > a.length ? b : a), '').toLowerCase());
    else continue;
    if (!l.every(usable)) continue;
    // With `all` every value must occur: one of them is enough to require.
    sets.push(obj.all === true ? best(l.map((x) => [x])) : l);
  }
  return best(sets);
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
    else if (TEXT.has(k)) {
      const l = matcherLits(v);
      if (l !== undefined) out.push(l);
    }
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
  const all = cnf(node).map((c) => [...new Set(c)]);
  if (all.length === 0) return undefined;
  return all.sort((a, b) => cost(a) - cost(b)).slice(0, MAX_CLAUSES);
}

const EMPTY: readonly number[] = [];

/** Aho-Corasick over the literal clauses of a list of detectors; `scan` marks which clauses hold. */
export class Prefilter<T extends { literals?: readonly (readonly string[])[] | undefined }> {
  // Per state: transitions, failure link, literal ids ending here, next state with output (-1: none).
  private readonly next: Map<number, number>[] = [new Map<number, number>()];
  private readonly fail: number[] = [0];
  private readonly out: number[][] = [[]];
  private readonly dict: number[] = [-1];
  /** Per literal: the clauses it satisfies. Per item: its clauses (empty: always evaluated). */
  private readonly litClauses: number[][] = [];
  private readonly clauses: number[][];
  private readonly stamp: Int32Array;
  private gen = 0;

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
          this.insert(lit, id);
        }
        this.litClauses[id]?.push(c);
      }
      return c;
    }));
    this.stamp = new Int32Array(clause);
    this.link();
  }

  private insert(lit: string, id: number): void {
    let s = 0;
    for (let i = 0; i < lit.length; i++) {
      const c = lit.charCodeAt(i);
      const here = this.next[s] ?? new Map<number, number>();
      let n = here.get(c);
      if (n === undefined) {
        n = this.next.length;
        this.next.push(new Map<number, number>());
        this.fail.push(0);
        this.out.push([]);
        this.dict.push(-1);
        here.set(c, n);
      }
      s = n;
    }
    this.out[s]?.push(id);
  }

  private step(s: number, c: number): number {
    let st = s;
    for (;;) {
      const n = this.next[st]?.get(c);
      if (n !== undefined) return n;
      if (st === 0) return 0;
      st = this.fail[st] ?? 0;
    }
  }

  private link(): void {
    const queue: number[] = [...(this.next[0]?.values() ?? [])];
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q] ?? 0;
      for (const [c, n] of this.next[s] ?? []) {
        // The failure of n: the longest proper suffix that is a trie path (never n itself).
        const f = s === 0 ? 0 : this.step(this.fail[s] ?? 0, c);
        this.fail[n] = f;
        this.dict[n] = (this.out[f]?.length ?? 0) > 0 ? f : (this.dict[f] ?? -1);
        queue.push(n);
      }
    }
  }

  /** Marks the items whose literals occur in `text`; then `pass(i)` says whether item i may match. */
  scan(text: string): void {
    this.gen = (this.gen + 1) | 0 || 1;
    const { stamp, litClauses, out, dict, gen } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      s = this.step(s, text.charCodeAt(i));
      for (let o = (out[s]?.length ?? 0) > 0 ? s : (dict[s] ?? -1); o > 0; o = dict[o] ?? -1) {
        for (const id of out[o] ?? EMPTY) for (const c of litClauses[id] ?? EMPTY) stamp[c] = gen;
      }
    }
  }

  /** Whether item i may match the last scanned text: each of its clauses had a literal there. */
  pass(i: number): boolean {
    for (const c of this.clauses[i] ?? EMPTY) if (this.stamp[c] !== this.gen) return false;
    return true;
  }
}

const textOf = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));

/** The lower-cased text of a document's TEXT_FIELDS, newline-separated (what `scan` reads). */
export function documentText(doc: unknown): string {
  let out = '';
  for (const f of TEXT_FIELDS) {
    const v = getField(doc, f);
    if (v === undefined || v === null) continue;
    out += `${Array.isArray(v) ? v.map(textOf).join('\n') : textOf(v)}\n`;
  }
  return out.toLowerCase();
}
