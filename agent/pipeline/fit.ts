import type { EcsDocument } from '../ecs/document.js';

export type Fit =
  | { kind: 'fits'; json: string; bytes: number }
  | { kind: 'too_large'; bytes: number };

// Fields a local user controls without privilege, cut first and hardest.
const USER_FIELDS = ['command_line', 'args', 'title'];
const STEPS = [4096, 512, 64];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function cutString(s: string, n: number): string {
  const end = /[\uD800-\uDBFF]/.test(s.charAt(n - 1)) ? n - 1 : n;
  return s.slice(0, end);
}

/**
 * Cuts strings longer than `n` characters and arrays longer than `n / 64` items in place, under
 * the keys `only` names (every key when undefined); records the dotted paths it cut.
 */
function cutTree(v: unknown, path: string, n: number, only: readonly string[] | undefined, cut: Set<string>, inField = false): unknown {
  if (typeof v === 'string') {
    if (!inField || v.length <= n) return v;
    cut.add(path);
    return cutString(v, n);
  }
  if (Array.isArray(v)) {
    const items = Math.max(1, Math.floor(n / 64));
    const kept = inField && v.length > items ? v.slice(0, items) : v;
    if (kept !== v) cut.add(path);
    return kept.map((x) => cutTree(x, path, n, only, cut, inField));
  }
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    const p = path === '' ? k : `${path}.${k}`;
    out[k] = cutTree(x, p, n, only, cut, inField || only === undefined || only.includes(k));
  }
  return out;
}

/**
 * Serialises `doc` within `maxBytes`: when too large, command lines and args (of the process, its
 * parent and the lineage) are cut first, then any long string, and the cut fields are listed in
 * `portwarden.truncated`. Never mutates `doc` (process blocks are shared between documents).
 */
export function fitDocument(doc: EcsDocument, maxBytes: number): Fit {
  const json = JSON.stringify(doc);
  let bytes = Buffer.byteLength(json);
  if (bytes <= maxBytes) return { kind: 'fits', json, bytes };
  const cut = new Set<string>();
  for (const only of [USER_FIELDS, undefined]) {
    for (const n of STEPS) {
      const smaller = cutTree(doc, '', n, only, cut) as Json;
      const pw = isObject(smaller.portwarden) ? smaller.portwarden : {};
      smaller.portwarden = { ...pw, truncated: [...cut].sort() };
      const out = JSON.stringify(smaller);
      bytes = Buffer.byteLength(out);
      if (bytes <= maxBytes) return { kind: 'fits', json: out, bytes };
    }
  }
  return { kind: 'too_large', bytes };
}
