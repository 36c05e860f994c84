import { keepRecent } from './recent-strings.js';

/**
 * Regexes that are only literals and `[\s\S]*` (what a Sigma value with `*` wildcards becomes, see
 * sigma-values.ts wildcardSource), matched in linear time with indexOf instead of V8's backtracking.
 * A command line is any local user's to write: on 32 KiB of text that repeats a literal but never
 * completes the match, `/[\s\S]*S-1-1-0:/i` or `/\\[\s\S]*\\[\s\S]*\$/i` backtracked for more than
 * 3 s per value (scripts/regex-cost.mjs); the same patterns through here take a few indexOf passes.
 */

/** Regex metacharacters: escaped, they stand for themselves; bare, the source is not a plain wildcard pattern. */
const META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}', '/']);
const ANY = '[\\s\\S]*';

/** A pure wildcard pattern: its literal segments in order, and whether the first and last are anchored. */
interface Wildcard { segments: string[]; start: boolean; end: boolean }

/**
 * Parses `source` as `^? (literal | [\s\S]*)* $?` with literals either plain characters or escaped
 * metacharacters; undefined for anything else (the caller keeps the regex). `u` patterns are left
 * to the regex (their escapes and case folding differ).
 */
export function parseWildcard(source: string, flags: string): Wildcard | undefined {
  if (flags !== '' && flags !== 'i') return undefined;
  let i = 0;
  const start = source.startsWith('^');
  if (start) i = 1;
  let stop = source.length;
  // A trailing `$` anchors unless it is escaped (`\$`: an odd run of backslashes before it).
  if (source.endsWith('$') && !/(^|[^\\])(\\\\)*\\\$$/.test(source)) stop--;
  const end = stop < source.length;
  const segments: string[] = [];
  let lit = '';
  let stars = 0;
  while (i < stop) {
    if (source.startsWith(ANY, i)) {
      segments.push(lit);
      lit = '';
      stars++;
      i += ANY.length;
      continue;
    }
    const ch = source.charAt(i);
    if (ch === '\\') {
      const next = source.charAt(i + 1);
      if (!META.has(next) && next !== '-') return undefined;
      lit += next;
      i += 2;
      continue;
    }
    if (META.has(ch)) return undefined;
    lit += ch;
    i++;
  }
  segments.push(lit);
  return stars === 0 ? undefined : { segments, start, end };
}

/**
 * ECMAScript's Canonicalize for a non-unicode ignoreCase regex (ECMA-262 22.2.2.7.3): a character
 * is compared by its upper case when that is one code unit, except that nothing outside ASCII
 * folds into ASCII.
 */
function canonical(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    const up = ch.toUpperCase();
    out += up.length !== 1 || (ch.charCodeAt(0) >= 128 && up.charCodeAt(0) < 128) ? ch : up;
  }
  return out;
}

// One command line is tested by many patterns: its canonical form is computed once.
const canonicalCached = keepRecent(canonical);

/** The test of a pure wildcard pattern: leftmost occurrences in order, which is what the regex finds if anything. */
export function wildcardTest(w: Wildcard, ignoreCase: boolean): (value: string) => boolean {
  const segs = ignoreCase ? w.segments.map(canonical) : w.segments;
  const first = segs[0] ?? '';
  const last = segs[segs.length - 1] ?? '';
  return (value) => {
    const v = ignoreCase ? canonicalCached(value) : value;
    const at0 = w.start ? (v.startsWith(first) ? 0 : -1) : v.indexOf(first);
    if (at0 === -1) return false;
    let pos = at0 + first.length;
    for (let k = 1; k < segs.length - 1; k++) {
      const seg = segs[k] ?? '';
      const at = v.indexOf(seg, pos);
      if (at === -1) return false;
      pos = at + seg.length;
    }
    if (w.end) return v.length - last.length >= pos && v.endsWith(last);
    return v.indexOf(last, pos) !== -1;
  };
}
