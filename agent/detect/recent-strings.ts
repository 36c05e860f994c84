/**
 * `fn` with its last few answers kept: the same field values (the same string objects within one
 * document) are lower-cased, folded or canonicalised by many rules per event, so each is hashed
 * and computed once. Cleared when full, not evicted one by one.
 */
export function keepRecent(fn: (v: string) => string, max = 64): (v: string) => string {
  const kept = new Map<string, string>();
  return (v) => {
    let out = kept.get(v);
    if (out === undefined) {
      if (kept.size >= max) kept.clear();
      out = fn(v);
      kept.set(v, out);
    }
    return out;
  };
}
