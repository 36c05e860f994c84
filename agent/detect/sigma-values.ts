/**
 * Sigma value modifiers that rewrite values before matching (windash, base64, base64offset,
 * wide/utf16), Sigma's wildcard strings, and Sigma (PCRE-flavoured) regular expressions as
 * JavaScript ones. Pure functions of the rule text.
 */

/** Thrown for valid Sigma the agent cannot run; `rules check` lists these as unsupported. */
export class SigmaUnsupported extends Error {}

const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015'];
const MAX_VARIANTS = 256;

/**
 * pySigma's `windash`: every `-` or `/` that starts a word (`\B[-/]\b`) may be written with any of
 * `-`, `/`, en dash, em dash or horizontal bar; all combinations.
 */
export function windash(v: string): string[] {
  const at: number[] = [];
  for (const m of v.matchAll(/\B[-/]\b/g)) at.push(m.index);
  if (at.length === 0) return [v];
  if (DASHES.length ** at.length > MAX_VARIANTS) throw new SigmaUnsupported(`windash on "${v}" expands to more than ${MAX_VARIANTS} variants`);
  let out = [''];
  let from = 0;
  for (const i of at) {
    const part = v.slice(from, i);
    out = out.flatMap((p) => DASHES.map((d) => p + part + d));
    from = i + 1;
  }
  return out.map((p) => p + v.slice(from));
}

export type Encoding = 'utf8' | 'utf16le' | 'utf16be';

export function encode(v: string, enc: Encoding): Buffer {
  if (enc === 'utf8') return Buffer.from(v, 'utf8');
  const le = Buffer.from(v, 'utf16le');
  return enc === 'utf16le' ? le : le.swap16();
}

/**
 * Sigma's `base64offset`: the three encodings of `v` at byte offsets 0, 1 and 2 of the encoded
 * stream, trimmed to the characters that do not depend on the surrounding bytes.
 */
export function base64offset(data: Buffer): string[] {
  const start = [0, 2, 3] as const;
  const endTrim = [0, 3, 2] as const;
  return ([0, 1, 2] as const).map((i) => {
    const enc = Buffer.concat([Buffer.alloc(i, 0x20), data]).toString('base64');
    const trim = (data.length + i) % 3;
    return enc.slice(start[i], enc.length - (trim === 0 ? endTrim[0] : trim === 1 ? endTrim[1] : endTrim[2]));
  });
}

/** A Sigma string: its literal text, or the regex source when it holds unescaped wildcards. */
/** A piece of a Sigma string: literal text, or a wildcard (`*` any run, `?` one character). */
export type Piece = { lit: string } | { wild: '*' | '?' };

export interface SigmaString {
  text: string;
  /** Set when `*` / `?` wildcards occur: an unanchored source for the parts in order. */
  parts?: Piece[];
}

/** Sigma's escaping: `\` escapes `*`, `?` and `\` only; any other backslash is literal. */
export function sigmaString(raw: string): SigmaString {
  const parts: Piece[] = [];
  let lit = '';
  let wild = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charAt(i);
    const next = raw.charAt(i + 1);
    if (ch === '\\' && (next === '*' || next === '?' || next === '\\')) {
      lit += next;
      i++;
    } else if (ch === '*' || ch === '?') {
      if (lit !== '') parts.push({ lit });
      lit = '';
      parts.push({ wild: ch });
      wild = true;
    } else {
      lit += ch;
    }
  }
  if (lit !== '') parts.push({ lit });
  const text = parts.map((p) => ('lit' in p ? p.lit : '')).join('');
  return wild ? { text, parts } : { text };
}

const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Regex source for a wildcard string under an operator (anchored as the operator needs). */
export function wildcardSource(parts: readonly Piece[], op: string): string {
  const body = parts.map((p) => ('lit' in p ? reEscape(p.lit) : p.wild === '*' ? '[\\s\\S]*' : '[\\s\\S]')).join('');
  const head = op === 'equals' || op === 'startswith' ? '^' : '';
  const tail = op === 'equals' || op === 'endswith' ? '$' : '';
  return `${head}${body}${tail}`;
}

/**
 * A Sigma `re` value as a JavaScript regex source and flags. Sigma's regexes are PCRE-like:
 * leading inline flags `(?i)` / `(?s)` / `(?m)` become flags; `\A` / `\Z` / `\z` anchors become
 * `^` / `$`; possessive quantifiers, atomic groups and `(?P<` names are rewritten or refused.
 */
export function sigmaRegex(src: string, subMods: readonly string[]): { source: string; flags: string } {
  let s = src;
  const flags = new Set<string>();
  for (const m of subMods) {
    if (m === 'i' || m === 'ignorecase') flags.add('i');
    else if (m === 'm' || m === 'multiline') flags.add('m');
    else if (m === 's' || m === 'dotall') flags.add('s');
  }
  const inline = /^\(\?([imsx]+)\)/.exec(s);
  if (inline !== null) {
    for (const f of inline[1] ?? '') {
      if (f === 'x') throw new SigmaUnsupported('regex flag (?x) (extended) has no JavaScript equivalent');
      flags.add(f);
    }
    s = s.slice(inline[0].length);
  }
  if (/\(\?[imsx-]+[:)]/.test(s)) throw new SigmaUnsupported('inline regex flags inside the pattern have no JavaScript equivalent');
  // Each escape stands as one plain character: dropping them made `{1,}\\"\s+?` (a lazy `+?` after
  // `\s`) read as a possessive `}+` (SigmaHQ proc_creation_win_hktl_invoke_obfuscation_var.yml).
  if (/\(\?>/.test(s) || /[*+?}][+]/.test(s.replace(/\\[\s\S]/g, 'e'))) throw new SigmaUnsupported('atomic groups and possessive quantifiers have no JavaScript equivalent');
  s = s.replace(/\(\?P</g, '(?<').replace(/\\A/g, '^').replace(/\\[Zz]/g, '$');
  try {
    new RegExp(s, [...flags].join(''));
  } catch (err) {
    throw new SigmaUnsupported(`regex not valid in JavaScript: ${(err as Error).message}`);
  }
  return { source: s, flags: [...flags].join('') };
}
