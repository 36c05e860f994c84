// Sigma wildcard values become regexes of literals and `[\s\S]*` (sigma-values.ts wildcardSource);
// the matcher runs those with indexOf (wildcard-match.ts). Whatever the pattern and the text, the
// verdict must be the regex's: random segments over a small alphabet (so segments overlap and
// repeat), escaped metacharacters, anchors, case under /i with the characters whose case folding
// is special (long s, Kelvin sign, dotted I, sharp s, micro sign and mu, final sigma).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { wildcardSource, sigmaString } from '../../../agent/detect/sigma-values.js';
import { parseWildcard, wildcardTest } from '../../../agent/detect/wildcard-match.js';

const ALPHABET = ['a', 'b', 'A', 'B', 's', 'S', '\u017f', 'k', 'K', '\u212a', 'i', '\u0130', '\u00df', '\u00b5', '\u03bc', '\u039c', '\u03c2', '\u03c3', '\u03a3', '\\', '$', '.', ':', '-', ' ', '"', '/', 'é', 'É'];
const text = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 24 }).map((cs) => cs.join(''));
const segment = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 4 }).map((cs) => cs.join(''));

test('wildcard patterns: the indexOf matcher gives the regex\'s verdict on every text (property)', () => {
  fc.assert(fc.property(
    fc.array(segment, { minLength: 2, maxLength: 5 }), fc.constantFrom('contains', 'startswith', 'endswith', 'equals'), fc.boolean(), fc.array(text, { minLength: 1, maxLength: 6 }),
    (segs, op, ci, texts) => {
      // As Sigma writes it: `*` between the segments, escaped where a segment holds one.
      const raw = segs.map((s) => s.replace(/[\\*?]/g, '\\$&')).join('*');
      const parts = sigmaString(raw).parts;
      if (parts === undefined) return;
      const source = wildcardSource(parts, op);
      const flags = ci ? 'i' : '';
      const w = parseWildcard(source, flags);
      assert.ok(w !== undefined, `/${source}/${flags} is read as a wildcard pattern`);
      const fast = wildcardTest(w, ci);
      const re = new RegExp(source, flags);
      // Texts built from the segments too, so that matches are common.
      for (const t of [...texts, segs.join(''), segs.join(texts[0] ?? ''), `${texts[0] ?? ''}${segs.join('x')}${texts[1] ?? ''}`]) {
        assert.equal(fast(t), re.test(t), `/${source}/${flags} on ${JSON.stringify(t)}`);
      }
    },
  ), { numRuns: 20_000 });
});

test('only literals and [\\s\\S]* are read as wildcard patterns; anything else stays a regex', () => {
  for (const [source, flags] of [['a[\\s\\S]', ''], ['a.*b', ''], ['a[\\s\\S]*b', 'u'], ['a[\\s\\S]*b', 'im'], ['a\\d[\\s\\S]*b', ''], ['(a)[\\s\\S]*b', ''], ['ab', ''], ['a|b[\\s\\S]*c', '']]) {
    assert.equal(parseWildcard(source ?? '', flags ?? ''), undefined, `/${String(source)}/${String(flags)}`);
  }
  assert.deepEqual(parseWildcard('^a\\.b[\\s\\S]*\\$[\\s\\S]*c\\\\$', 'i'), { segments: ['a.b', '$', 'c\\'], start: true, end: true });
  assert.deepEqual(parseWildcard('[\\s\\S]*S-1-1-0:', 'i'), { segments: ['', 'S-1-1-0:'], start: false, end: false });
  assert.deepEqual(parseWildcard('x[\\s\\S]*\\$', 'i'), { segments: ['x', '$'], start: false, end: false }, 'an escaped $ is a literal, not an anchor');
});
