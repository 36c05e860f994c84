// The prefilter may skip a rule only when it cannot match: whenever a regex matches a text, the
// literal clauses read from its source (regex-literals.ts) must hold in the folded text. Random
// regexes over the syntax the reader handles (alternation at every level, optional and repeated
// groups, lookarounds, backreferences, classes, escapes, characters outside the BMP), each with
// texts sampled from it, under the flags '', u, i, iu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold, regexClauses } from '../../../agent/detect/regex-literals.js';

/** A regex piece: its source, and a text it (usually) matches; `pick` chooses among alternatives. */
type Node = { src: string; sample: (pick: () => number) => string };

const lit = (src: string, text: string): Node => ({ src, sample: () => text });
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
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }).map((ns): Node => ({ src: ns.map((n) => n.src).join(''), sample: (p) => ns.map((n) => n.sample(p)).join('') })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((ns): Node => ({ src: `(?:${ns.map((n) => n.src).join('|')})`, sample: (p) => (ns[p() % ns.length] as Node).sample(p) })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((ns): Node => ({ src: ns.map((n) => n.src).join('|'), sample: (p) => (ns[p() % ns.length] as Node).sample(p) })),
    fc.tuple(tie('node'), fc.constantFrom('(', '(?:', '(?<n>')).map(([n, open]): Node => ({ src: `${open}${n.src})`, sample: n.sample })),
    fc.tuple(tie('node'), fc.constantFrom('?', '*', '+', '{2}', '{0,2}', '{1,}', '??', '+?', '{3}')).map(([n, q]): Node => ({
      src: `(?:${n.src})${q}`,
      sample: (p) => n.sample(p).repeat(q.startsWith('{3') ? 3 : q.startsWith('{2') ? 2 : q.startsWith('+') || q.startsWith('{1') ? 1 + (p() % 2) : p() % 3),
    })),
    // A quantifier right after a character (a surrogate pair with or without u).
    fc.tuple(fc.constantFrom(...ATOMS.slice(0, 20)), fc.constantFrom('?', '*', '+', '{2}')).map(([n, q]): Node => ({ src: `${n.src}${q}`, sample: (p) => n.sample(p).repeat(q === '{2}' ? 2 : p() % 2) })),
    fc.tuple(tie('node'), fc.constantFrom('(?=', '(?!', '(?<=', '(?<!')).map(([n, open]): Node => ({ src: `${open}${n.src})`, sample: (p) => (open === '(?=' ? '' : p() % 2 === 0 ? n.sample(p) : '') })),
    tie('node').map((n): Node => ({ src: `(${n.src})\\1`, sample: (p) => { const s = n.sample(p); return s + s; } })),
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

test('regex literals are sound: whenever a random regex matches, its clauses hold in the folded text (property)', () => {
  fc.assert(fc.property(node, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 6 }), fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), (n, picks, bits, pre, post) => {
    let k = 0;
    const pick = () => picks[k++ % picks.length] ?? 0;
    const sample = n.sample(pick);
    const clauses = regexClauses(n.src, 1);
    for (const flags of ['', 'u', 'i', 'iu']) {
      let re: RegExp;
      try { re = new RegExp(n.src, flags); } catch { continue; }
      for (const text of [sample, pre + sample + post, recase(sample, bits)]) {
        if (re.test(text)) assert.ok(holds(clauses, text), `/${n.src}/${flags} matches ${JSON.stringify(text)} but clauses ${JSON.stringify(clauses)} do not hold`);
      }
    }
  }), { numRuns: 20_000 });
});
