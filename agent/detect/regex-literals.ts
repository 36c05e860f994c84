/**
 * Literals a regular expression needs: from a JavaScript regex source, clauses of strings such that
 * every text the regex matches in contains one string of each clause. Alternations (`(tcp|udp)`,
 * `nc|ncat`), small character classes (`[46]`), groups, `+`/`{n,}` repetition and positive
 * lookaheads are read; what is optional or unknown (`?`, `*`, `.`, `\w`, large classes,
 * backreferences, negative lookarounds) needs nothing. The prefilter (prefilter.ts) uses the
 * clauses to skip rules whose regexes cannot match an event.
 */

/** What a piece of a pattern needs: `exact` when it matches one of a few fixed strings only. */
interface Info { exact: string[] | undefined; cnf: string[][] }

const MAX_EXACT = 64;
const NONE: Info = { exact: undefined, cnf: [] };
const EMPTY: Info = { exact: [''], cnf: [] };

class Unsure extends Error {}

const isHigh = (c: string): boolean => c >= '\ud800' && c <= '\udbff';
const isLow = (c: string): boolean => c >= '\udc00' && c <= '\udfff';

/**
 * Text and literals alike are lower-cased, and the long s read as s: regexes with the `iu` flags
 * match it as `s` (Unicode case folding), so the ASCII literals of such a regex must be found. (The
 * Kelvin sign lower-cases to k already; without `u`, non-ASCII never matches ASCII letters.)
 */
export function fold(s: string): string {
  const l = s.toLowerCase();
  return l.includes('\u017f') ? l.replace(/\u017f/g, 's') : l;
}

/** Whether a string holds a letter outside ASCII that has case (code points, surrogate pairs whole). */
const casedNonAscii = (s: string): boolean => Array.from(s).some((ch) => ch > '\x7e' && ch.toLowerCase() !== ch.toUpperCase());

/** A test that a folded text holds a literal of every clause; undefined when there is no clause. */
export function clauseGate(clauses: readonly (readonly string[])[]): ((folded: string) => boolean) | undefined {
  if (clauses.length === 0) return undefined;
  return (t) => {
    for (const c of clauses) {
      let found = false;
      for (const l of c) if (t.includes(l)) { found = true; break; }
      if (!found) return false;
    }
    return true;
  };
}

function cross(a: readonly string[], b: readonly string[]): string[] | undefined {
  if (a.length * b.length > MAX_EXACT) return undefined;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return [...out];
}

/** The clauses a piece gives: its own, plus its exact strings as one (when none is empty). */
function clausesOf(i: Info): string[][] {
  return i.exact !== undefined && i.exact.every((s) => s.length > 0) ? [...i.cnf, i.exact] : i.cnf;
}

/** Cost of checking a literal set: short literals occur often, many literals make many candidates. */
export const cost = (l: readonly string[]): number => l.reduce((a, s) => a + 1 / Math.min(s.length, 16) ** 2, 0);

/** A clause without the strings that contain another of its strings (`nc` makes `ncat` redundant). */
export function minimal(clause: readonly string[]): string[] {
  const u = [...new Set(clause)].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const s of u) if (!out.some((t) => s.includes(t))) out.push(s);
  return out;
}

function bestClause(cs: string[][]): string[] | undefined {
  let out: string[] | undefined;
  for (const raw of cs) {
    const c = minimal(raw);
    if (out === undefined || cost(c) < cost(out)) out = c;
  }
  return out;
}

function concat(parts: Info[]): Info {
  const cnf: string[][] = [];
  let run: string[] | undefined = [''];
  let exact: string[] | undefined = [''];
  const close = () => {
    if (run !== undefined && run.every((s) => s.length > 0)) cnf.push(run);
    run = [''];
  };
  for (const p of parts) {
    cnf.push(...p.cnf);
    exact = exact === undefined || p.exact === undefined ? undefined : cross(exact, p.exact);
    if (p.exact === undefined) {
      close();
      continue;
    }
    const next = cross(run, p.exact);
    if (next === undefined) {
      close();
      run = p.exact;
    } else {
      run = next;
    }
  }
  if (exact === undefined) close();
  return { exact, cnf };
}

function alternation(branches: Info[]): Info {
  if (branches.length === 1) return branches[0] ?? NONE;
  if (branches.every((b) => b.exact !== undefined)) {
    const all = [...new Set(branches.flatMap((b) => b.exact ?? []))];
    if (all.length <= MAX_EXACT) return { exact: all, cnf: [] };
  }
  const picks = branches.map((b) => bestClause(clausesOf(b)));
  if (picks.some((p) => p === undefined)) return NONE;
  return { exact: undefined, cnf: [minimal(picks.flatMap((p) => p ?? []))] };
}

/** A recursive-descent reader of the pattern (the JavaScript syntax, with or without `u`). */
class Reader {
  i = 0;
  constructor(private readonly s: string) {}

  disjunction(): Info {
    const branches = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return alternation(branches);
  }

  private sequence(): Info {
    const parts: Info[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') parts.push(this.quantified(this.atom()));
    return concat(parts);
  }

  private quantified(a: Info): Info {
    const c = this.s[this.i];
    let min: number;
    if (c === '*' || c === '?') { min = 0; this.i++; }
    else if (c === '+') { min = 1; this.i++; }
    else if (c === '{') {
      const m = /^\{(\d+)(,\d*)?\}/.exec(this.s.slice(this.i));
      if (m === null) return a; // a literal brace (without `u`)
      min = Number(m[1]);
      this.i += m[0].length;
      if (m[2] === undefined && min <= 4 && a.exact !== undefined) {
        // x{3}: exactly that many.
        let e: string[] | undefined = [''];
        for (let k = 0; k < min && e !== undefined; k++) e = cross(e, a.exact);
        if (this.s[this.i] === '?') this.i++;
        return { exact: e, cnf: a.cnf };
      }
    } else return a;
    if (this.s[this.i] === '?') this.i++; // lazy
    return min === 0 ? NONE : { exact: undefined, cnf: clausesOf(a) };
  }

  private atom(): Info {
    const c = this.s.charAt(this.i++);
    switch (c) {
      case '^': case '$': return EMPTY;
      case '.': return NONE;
      case '[': return this.charClass();
      case '\\': return this.escape();
      case '(': return this.group();
      case '*': case '+': case '?': throw new Unsure();
      default:
        if (isHigh(c) && isLow(this.s.charAt(this.i))) return this.pair(c + this.s.charAt(this.i++));
        return { exact: [c], cnf: [] };
    }
  }

  /**
   * A character outside the BMP (a surrogate pair): with `u` a quantifier after it repeats the
   * whole pair, without `u` only its low half, so before a quantifier it needs nothing.
   */
  private pair(p: string): Info {
    const q = this.s.charAt(this.i);
    return q !== '' && '*+?{'.includes(q) ? NONE : { exact: [p], cnf: [] };
  }

  private group(): Info {
    let kind: 'plain' | 'ahead' | 'skip' = 'plain';
    if (this.s.startsWith('?:', this.i)) this.i += 2;
    else if (this.s.startsWith('?=', this.i)) { kind = 'ahead'; this.i += 2; }
    else if (this.s.startsWith('?!', this.i) || this.s.startsWith('?<=', this.i) || this.s.startsWith('?<!', this.i)) {
      kind = 'skip';
      this.i += this.s.startsWith('?!', this.i) ? 2 : 3;
    } else if (this.s.startsWith('?<', this.i)) {
      const close = this.s.indexOf('>', this.i);
      if (close < 0) throw new Unsure();
      this.i = close + 1;
    } else if (this.s[this.i] === '?') throw new Unsure();
    const inner = this.disjunction();
    if (this.s[this.i++] !== ')') throw new Unsure();
    // A lookahead consumes nothing but what it needs is in the text; negative ones need nothing.
    if (kind === 'ahead') return { exact: undefined, cnf: clausesOf(inner) };
    return kind === 'skip' ? NONE : inner;
  }

  private escape(): Info {
    const c = this.s.charAt(this.i++);
    if (c === '') throw new Unsure();
    if ('dDwWsSpP'.includes(c)) {
      if ((c === 'p' || c === 'P') && this.s[this.i] === '{') this.i = this.s.indexOf('}', this.i) + 1 || this.s.length;
      return NONE;
    }
    if (c === 'b' || c === 'B') return EMPTY;
    if (/[1-9]/.test(c) || c === 'k') throw new Unsure(); // backreferences: leave the pattern alone
    const ch = this.escapedChar(c);
    if (ch !== undefined && isHigh(ch) && /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(this.s.slice(this.i))) {
      const low = String.fromCharCode(parseInt(this.s.slice(this.i + 2, this.i + 6), 16));
      this.i += 6;
      return this.pair(ch + low);
    }
    return ch === undefined ? NONE : { exact: [ch], cnf: [] };
  }

  /** The character an escape stands for (after the backslash and `c`). */
  private escapedChar(c: string): string | undefined {
    const CONTROL: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f', v: '\v', '0': '\0' };
    // `\01` (an octal escape without `u`) and `\u{41}` (a repeated `u` without it): not read.
    if (c === '0' && /[0-9]/.test(this.s.charAt(this.i))) throw new Unsure();
    if (c in CONTROL) return CONTROL[c];
    if (c === 'u' && this.s[this.i] === '{') throw new Unsure();
    if (c === 'x' || c === 'u') {
      const m = c === 'x' ? /^[0-9a-fA-F]{2}/.exec(this.s.slice(this.i)) : /^[0-9a-fA-F]{4}/.exec(this.s.slice(this.i));
      if (m === null) return c; // not an escape sequence: the letter itself (without `u`)
      this.i += m[0].length;
      return String.fromCharCode(parseInt(m[0], 16));
    }
    if (c === 'c') {
      const l = this.s.charAt(this.i);
      if (!/[A-Za-z]/.test(l)) return undefined;
      this.i++;
      return String.fromCharCode(l.charCodeAt(0) % 32);
    }
    return c;
  }

  /** `[46]`, `[ec]`: a few single characters are an alternation; ranges and negations are not read. */
  private charClass(): Info {
    const chars: string[] = [];
    let known = this.s[this.i] !== '^';
    while (this.i < this.s.length && this.s[this.i] !== ']') {
      let ch: string | undefined = this.s.charAt(this.i++);
      if (ch === '\\') {
        const e = this.s.charAt(this.i++);
        ch = 'dDwWsSpPbB'.includes(e) ? undefined : this.escapedChar(e);
      } else if (ch === '-' && chars.length > 0 && this.s[this.i] !== ']') known = false;
      if (ch === undefined) known = false;
      else chars.push(ch);
    }
    if (this.s[this.i++] !== ']') throw new Unsure();
    return known && chars.length > 0 && chars.length <= 8 ? { exact: [...new Set(chars)], cnf: [] } : NONE;
  }
}

/**
 * The literal clauses of a regex source: each clause lists strings of which one occurs in every
 * text the regex matches (with `ignoreCase`, in the text's lower-cased form: clauses are lower-cased
 * and hold no cased non-ASCII letter, so that lower-casing both sides keeps a match); strings
 * shorter than `minLength` make their clause unused. [] when nothing is known.
 */
export function regexClauses(source: string, minLength = 2): string[][] {
  let info: Info;
  try {
    const r = new Reader(source);
    info = r.disjunction();
    if (r.i !== source.length) return [];
  } catch (err) {
    if (err instanceof Unsure) return [];
    throw err;
  }
  const out: string[][] = [];
  for (const c of clausesOf(info)) {
    const lower = minimal(c.map((s) => s.toLowerCase()));
    // Short strings occur in nearly every event (the prefilter leaves them out); case folding of
    // non-ASCII letters (Kelvin sign, long s, dotless i ...) need not survive lower-casing.
    if (lower.some((s) => s.length < minLength || casedNonAscii(s))) continue;
    out.push(lower);
  }
  return out;
}
