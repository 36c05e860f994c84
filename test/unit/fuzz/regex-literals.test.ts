// The prefilter may skip a rule only when it cannot match: whenever a regex matches a text, the
// literal clauses read from its source (regex-literals.ts) must hold in the folded text. Random
// regexes over the syntax the reader handles (alternation at every level, optional and repeated
// groups, lookarounds, backreferences, classes, escapes, characters outside the BMP), each with
// texts sampled from it, under the flags '', u, i, iu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold, regexClauses } from '../../../agent/detect/regex-literals.js';

/**
 * A regex piece: its source, and a text it (usually) matches; `pick` chooses among alternatives.
 * `simple`: no quantifier, alternation, lookaround or backreference inside; `stars`: how many
 * unbounded quantifiers it holds. V8 backtracks: an unbounded quantifier over anything but a simple
 * piece, or many of them in one pattern, can take minutes on a 20-character text that does not
 * match (a CI run timed out after 300 s), so the generator bounds those (below).
 */
type Node = { src: string; sample: (pick: () => number) => string; simple: boolean; stars: number };

const lit = (src: string, text: string): Node => ({ src, sample: () => text, simple: true, stars: 0 });
/** An unbounded quantifier over a piece that is not simple becomes its bounded form. */
const BOUNDED: Record<string, string> = { '*': '{0,2}', '+': '{1,2}', '{1,}': '{1,2}', '+?': '{1,2}?' };
const isUnbounded = (q: string): boolean => BOUNDED[q] !== undefined;
/** Longest text tried, and most unbounded quantifiers per pattern: backtracking stays polynomial and small. */
const MAX_TEXT = 20;
const MAX_STARS = 3;
const sum = (ns: Node[]): number => ns.reduce((n, x) => n + x.stars, 0);
const ATOMS: Node[] = [
  lit('a', 'a'), lit('b', 'b'), lit('c', 'c'), lit('K', 'K'), lit('s', 's'), lit('S', 'S'), lit('-', '-'), lit('/', '/'), lit(' ', ' '),
  lit('ſ', 'ſ'), lit('\u212a', '\u212a'), lit('é', 'é'), lit('😀', '😀'), lit('𐐀', '𐐀'),
  lit('\\.', '.'), lit('\\/', '/'), lit('\\x41', 'A'), lit('\\u0062', 'b'), lit('\\uD83D\\uDE00', '😀'), lit('\\t', '\t'),
  lit('\\d', '7'), lit('\\s', ' '), lit('\\w', 'q'), lit('.', 'z'), lit('\\b', ''), lit('\\B', ''), lit('^', ''), lit('$', ''),
  lit('[ab]', 'b'), lit('[^a]', 'x'), lit('[a-c]', 'c'), lit('[😀x]', 'x'), lit('[\\x41-\\x43]', 'B'), lit('[-/]', '/'), lit('[sK]', 'k'),
];

const node: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...ATOMS),
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }).map((ns): Node => ({ src: ns.map((n) => n.src).join(''), sample: (p) => ns.map((n) => n.sample(p)).join(''), simple: ns.every((n) => n.simple), stars: sum(ns) })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((ns): Node => ({ src: `(?:${ns.map((n) => n.src).join('|')})`, sample: (p) => (ns[p() % ns.length] as Node).sample(p), simple: false, stars: sum(ns) })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((ns): Node => ({ src: ns.map((n) => n.src).join('|'), sample: (p) => (ns[p() % ns.length] as Node).sample(p), simple: false, stars: sum(ns) })),
    fc.tuple(tie('node'), fc.constantFrom('(', '(?:', '(?<n>')).map(([n, open]): Node => ({ src: `${open}${n.src})`, sample: n.sample, simple: n.simple, stars: n.stars })),
    fc.tuple(tie('node'), fc.constantFrom('?', '*', '+', '{2}', '{0,2}', '{1,}', '??', '+?', '{3}')).map(([n, asked]): Node => {
      const q = isUnbounded(asked) && !n.simple ? BOUNDED[asked] ?? asked : asked;
      return {
        src: `(?:${n.src})${q}`,
        sample: (p) => n.sample(p).repeat(q.startsWith('{3') ? 3 : q.startsWith('{2') ? 2 : q.startsWith('+') || q.startsWith('{1') ? 1 + (p() % 2) : p() % 3),
        simple: false, stars: n.stars + (isUnbounded(q) ? 1 : 0),
      };
    }),
    // A quantifier right after a character (a surrogate pair with or without u).
    fc.tuple(fc.constantFrom(...ATOMS.slice(0, 20)), fc.constantFrom('?', '*', '+', '{2}')).map(([n, q]): Node => ({ src: `${n.src}${q}`, sample: (p) => n.sample(p).repeat(q === '{2}' ? 2 : p() % 2), simple: false, stars: isUnbounded(q) ? 1 : 0 })),
    fc.tuple(tie('node'), fc.constantFrom('(?=', '(?!', '(?<=', '(?<!')).map(([n, open]): Node => ({ src: `${open}${n.src})`, sample: (p) => (open === '(?=' ? '' : p() % 2 === 0 ? n.sample(p) : ''), simple: false, stars: n.stars })),
    tie('node').map((n): Node => ({ src: `(${n.src})\\1`, sample: (p) => { const s = n.sample(p); return s + s; }, simple: false, stars: n.stars })),
  ),
})).node;

/** Case changes the flag i allows: upper/lower, and the long s and Kelvin sign for s and k. */
const recase = (s: string, bits: number[]): string => Array.from(s).map((ch, i) => {
  const b = bits[i % bits.length] ?? 0;
  if (b === 1) return ch.toUpperCase().length === ch.length ? ch.toUpperCase() : ch;
  if (b === 2 && /[sS]/.test(ch)) return '\u017f';
  if (b === 2 && /[kK]/.test(ch)) return '\u212a';
  return b === 3 ? ch.toLowerCase() : ch;
}).join('');

const holds = (clauses: string[][], text: string): boolean => clauses.every((c) => c.some((l) => fold(text).includes(l)));

test('regex literals are sound: whenever a random regex matches, its clauses hold in the folded text (property)', (t) => {
  let checked = 0;
  let skipped = 0;
  fc.assert(fc.property(node, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 6 }), fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), (n, picks, bits, pre, post) => {
    let k = 0;
    const pick = () => picks[k++ % picks.length] ?? 0;
    const sample = n.sample(pick);
    if (n.stars > MAX_STARS) {
      skipped++;
      return;
    }
    const clauses = regexClauses(n.src, 1);
    for (const flags of ['', 'u', 'i', 'iu']) {
      let re: RegExp;
      try { re = new RegExp(n.src, flags); } catch { continue; }
      for (const text of [sample, pre + sample + post, recase(sample, bits)]) {
        if (text.length > MAX_TEXT) continue;
        if (!re.test(text)) continue;
        checked++;
        assert.ok(holds(clauses, text), `/${n.src}/${flags} matches ${JSON.stringify(text)} but clauses ${JSON.stringify(clauses)} do not hold`);
      }
    }
  }), { numRuns: 20_000 });
  t.diagnostic(`${checked} matches checked; ${skipped} of 20,000 patterns skipped (over ${MAX_STARS} unbounded quantifiers)`);
  // The bounds must leave the property something to check.
  assert.ok(checked > 40_000 && skipped < 2_000, `${checked} matches checked, ${skipped} patterns skipped`);
});
