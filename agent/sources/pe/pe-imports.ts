import { createHash } from 'node:crypto';
import { IMPHASH_ORDINALS } from './imphash-ordinals.js';
import { DIR_IMPORT, type PeView } from './pe-image.js';

/**
 * The import table and its imphash, computed exactly as pefile's `get_imphash` does (github.com/
 * erocarrera/pefile): per imported symbol `dll.function`, lower case, the DLL name without a
 * .dll/.ocx/.sys extension, ordinal imports named through pefile's frozen imphash ordinal tables
 * (`ord<N>` otherwise), joined by commas, MD5. The walk keeps pefile's bounds and its choices on
 * damaged tables (an empty or broken thunk array skips that DLL; a name with characters outside
 * pefile's set is dropped), so a hostile file gives what pefile gives or nothing, never a hang.
 */
export interface PeImport { dll: string; name?: string; ordinal?: number }

const MAX_IMPORT_SYMBOLS = 0x2000;
const MAX_NAME = 0x200;
const MAX_DESCRIPTORS = 0x10000;
const MAX_SPREAD = 128 * 2 ** 20;
const DLL_OK = /^[A-Za-z0-9!#$%&'()\-@^_`{}~+,.;=[\]:\\/]*$/;
const FN_OK = /^[A-Za-z0-9._?@$()<>]*$/;

/** Every imported symbol in table order; [] when the file imports nothing. */
export function readImports(v: PeView): PeImport[] {
  const dir = v.h.dirs[DIR_IMPORT];
  if (dir === undefined || dir.rva === 0) return [];
  const out: PeImport[] = [];
  const total = { n: 0 };
  let errors = 0;
  let rva = dir.rva;
  for (let d = 0; d < MAX_DESCRIPTORS; d++) {
    const desc = v.bytes(rva, 20);
    if (desc === undefined || desc.length < 20 || desc.every((b) => b === 0)) break;
    // pefile bounds each thunk table by the bytes the file has after the descriptor, unless the
    // descriptor lies after a table (then by the distance to it).
    const rest = v.h.fileSize - v.offsetOf(rva);
    rva += 20;
    const originalFirstThunk = desc.readUInt32LE(0);
    const nameRva = desc.readUInt32LE(12);
    const firstThunk = desc.readUInt32LE(16);
    const maxLen = rva > originalFirstThunk || rva > firstThunk ? Math.max(rva - originalFirstThunk, rva - firstThunk) : rest;
    let symbols: Symbol[];
    try {
      symbols = parseThunks(v, originalFirstThunk, firstThunk, maxLen, total);
    } catch (err) {
      // pefile drops a DLL whose thunks hold an entry that is neither an ordinal nor a readable name.
      if (!(err instanceof InvalidEntries)) throw err;
      symbols = [];
    }
    if (errors > 5) break;
    if (symbols.length === 0) {
      errors++;
      continue;
    }
    const raw = v.cstring(nameRva, MAX_NAME);
    const name = raw === undefined ? '' : raw.toString('latin1');
    const dll = DLL_OK.test(name) ? name : '*invalid*';
    if (dll.length === 0) continue;
    for (const s of symbols) out.push({ dll, ...s });
  }
  return out;
}

type Symbol = { name: string } | { ordinal: number };
class InvalidEntries extends Error {}

function parseThunks(v: PeView, ilt: number, iat: number, maxLen: number, total: { n: number }): Symbol[] {
  // pefile reads both tables (each counts towards its 0x2000 symbol bound) and prefers the ILT.
  const lookup = thunkTable(v, ilt, maxLen, total) ?? [];
  const addresses = thunkTable(v, iat, maxLen, total) ?? [];
  const chosen = lookup.length > 0 ? lookup : addresses;
  const flag = v.h.is64 ? 1n << 63n : 1n << 31n;
  const out: Symbol[] = [];
  let invalid = 0;
  for (let idx = 0; idx < chosen.length; idx++) {
    const entry = chosen[idx] ?? 0n;
    if ((entry & flag) !== 0n) {
      const ordinal = Number(entry & 0xffffn);
      if (ordinal !== 0) out.push({ ordinal });
      continue;
    }
    const mask = v.h.is64 ? 0x7fffffffffffffffn : 0x7fffffffn;
    const at = Number(entry & mask);
    const name = v.bytes(at, 2)?.length === 2 ? v.cstring(at + 2, MAX_NAME)?.toString('latin1') : undefined;
    if (name === undefined) throw new InvalidEntries();
    if (!FN_OK.test(name)) {
      if (invalid > 1000 && invalid === idx) return [];
      invalid++;
      continue;
    }
    if (name.length > 0) out.push({ name });
  }
  return out;
}

/** pefile's get_import_table: the thunk values up to the zero one, or undefined when broken. */
function thunkTable(v: PeView, start: number, maxLen: number, total: { n: number }): bigint[] | undefined {
  const size = v.h.is64 ? 8 : 4;
  const flag = v.h.is64 ? 1n << 63n : 1n << 31n;
  const table: bigint[] = [];
  const seen32 = new Set<bigint>();
  const seen64 = new Set<bigint>();
  const span = { lo32: -1n, hi32: -1n, lo64: -1n, hi64: -1n };
  let repeated = 0;
  let rva = start;
  while (rva !== 0) {
    if (rva >= start + maxLen) break;
    if (total.n > MAX_IMPORT_SYMBOLS) break;
    total.n++;
    if (repeated >= 15) return [];
    if (span.hi32 - span.lo32 > BigInt(MAX_SPREAD) || span.hi64 - span.lo64 > BigInt(MAX_SPREAD)) return [];
    const b = v.bytes(rva, size);
    if (b === undefined || b.length !== size) return undefined;
    const value = v.h.is64 ? b.readBigUInt64LE(0) : BigInt(b.readUInt32LE(0));
    if (BigInt(start) <= value && value <= BigInt(rva)) break;
    if (value !== 0n) {
      if ((value & flag) !== 0n) {
        if ((value & 0x7fffffffn) > 0xffffn) return [];
      } else {
        const wide = value >= 2n ** 32n;
        const set = wide ? seen64 : seen32;
        if (set.has(value)) repeated++;
        set.add(value);
        if (wide) { span.lo64 = span.lo64 < 0n || value < span.lo64 ? value : span.lo64; span.hi64 = value > span.hi64 ? value : span.hi64; }
        else { span.lo32 = span.lo32 < 0n || value < span.lo32 ? value : span.lo32; span.hi32 = value > span.hi32 ? value : span.hi32; }
      }
    }
    if (value === 0n) break;
    rva += size;
    table.push(value);
  }
  return table;
}

/** pefile's get_imphash over `readImports`; undefined when the file imports nothing. */
export function imphash(imports: readonly PeImport[]): string | undefined {
  if (imports.length === 0) return undefined;
  const parts: string[] = [];
  for (const imp of imports) {
    const lower = imp.dll.toLowerCase();
    const dot = lower.lastIndexOf('.');
    const ext = dot < 0 ? '' : lower.slice(dot + 1);
    const lib = dot >= 0 && (ext === 'dll' || ext === 'ocx' || ext === 'sys') ? lower.slice(0, dot) : lower;
    const fn = imp.name ?? IMPHASH_ORDINALS.get(lower)?.get(imp.ordinal ?? 0) ?? `ord${imp.ordinal ?? 0}`;
    parts.push(`${lib}.${fn.toLowerCase()}`);
  }
  return createHash('md5').update(parts.join(','), 'latin1').digest('hex');
}
