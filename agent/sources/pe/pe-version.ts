import { DIR_RESOURCE, type PeView } from './pe-image.js';

/**
 * The VS_VERSIONINFO resource (RT_VERSION): the StringFileInfo strings Sysmon and Explorer show.
 * The string table is chosen as .NET's FileVersionInfo (PowerShell's `VersionInfo`) chooses it:
 * the first language/code page in VarFileInfo\Translation, else US English with the Unicode, then
 * the Windows-1252, then no code page; failing those, the first table the file has.
 */
export interface PeVersionInfo {
  originalFileName?: string;
  description?: string;
  product?: string;
  company?: string;
  fileVersion?: string;
}

const RT_VERSION = 16;
const LANGUAGES = [0x0000, 0x0409, 0x0400, 0x0800, 0x0009];
const MAX_VERSION_BYTES = 1024 * 1024;
const MAX_BLOCKS = 4096;
const FALLBACK = ['040904b0', '040904e4', '04090000'];
const KEYS: Readonly<Record<string, keyof PeVersionInfo>> = {
  OriginalFilename: 'originalFileName',
  FileDescription: 'description',
  ProductName: 'product',
  CompanyName: 'company',
  FileVersion: 'fileVersion',
};

/** The version strings, or undefined when the file has no readable version resource. */
export function readVersionInfo(v: PeView): PeVersionInfo | undefined {
  const data = versionResource(v);
  return data === undefined ? undefined : parseVersionInfo(data);
}

/** The raw RT_VERSION resource: the first name and the first language under it, as the loader takes it. */
function versionResource(v: PeView): Buffer | undefined {
  const dir = v.h.dirs[DIR_RESOURCE];
  if (dir === undefined || dir.rva === 0) return undefined;
  const base = dir.rva;
  const visited = new Set<number>();
  // Level 1: the RT_VERSION type; level 2: the first name; level 3: the language FindResource
  // takes on an English system (neutral, then en-US, then the first), not simply the first.
  let entry = findEntry(v, base, 0, visited, [RT_VERSION]);
  if (entry?.isDir === true) entry = findEntry(v, base, entry.offset, visited, []);
  if (entry?.isDir === true) entry = findEntry(v, base, entry.offset, visited, LANGUAGES);
  if (entry === undefined || entry.isDir) return undefined;
  const de = v.bytes(base + entry.offset, 16);
  if (de === undefined || de.length < 16) return undefined;
  const size = de.readUInt32LE(4);
  if (size > MAX_VERSION_BYTES) return undefined;
  return v.bytes(de.readUInt32LE(0), size);
}

/** The entry whose id comes first in `prefer`, else (empty `prefer`, or none listed) the first one. */
function findEntry(v: PeView, base: number, offset: number, visited: Set<number>, prefer: readonly number[]): { offset: number; isDir: boolean } | undefined {
  // A directory that points back at one already walked is a loop: stop there.
  if (visited.has(offset) || visited.size >= 8) return undefined;
  visited.add(offset);
  const head = v.bytes(base + offset, 16);
  if (head === undefined || head.length < 16) return undefined;
  const named = head.readUInt16LE(12);
  const ids = head.readUInt16LE(14);
  // Named entries come first; ids follow. At most 2 x 65,535 entries of 8 bytes each (1 MiB).
  const entries = v.bytes(base + offset + 16, (named + ids) * 8);
  if (entries === undefined) return undefined;
  let best = -1;
  let rank = Infinity;
  for (let i = 0; i + 8 <= entries.length; i += 8) {
    const name = entries.readUInt32LE(i);
    const r = (name & 0x80000000) === 0 ? prefer.indexOf(name) : -1;
    if (r >= 0 && r < rank) { best = i; rank = r; }
    if (best < 0 && prefer.length === 0) best = i;
  }
  // Resource types must match; a language not listed falls back to the first one.
  if (best < 0 && prefer !== LANGUAGES) return undefined;
  if (best < 0) best = 0;
  if (best + 8 > entries.length) return undefined;
  const target = entries.readUInt32LE(best + 4);
  return { offset: target & 0x7fffffff, isDir: (target & 0x80000000) !== 0 };
}

interface Block { key: string; type: number; valueAt: number; valueLength: number; childrenAt: number; end: number }

const align4 = (n: number): number => (n + 3) & ~3;

function readBlock(b: Buffer, at: number, limit: number): Block | undefined {
  if (at + 6 > limit) return undefined;
  const length = b.readUInt16LE(at);
  if (length < 6) return undefined;
  const end = Math.min(at + length, limit);
  const valueLength = b.readUInt16LE(at + 2);
  const type = b.readUInt16LE(at + 4);
  let p = at + 6;
  while (p + 2 <= end && b.readUInt16LE(p) !== 0) p += 2;
  const key = b.toString('utf16le', at + 6, p);
  const valueAt = align4(p + 2);
  // Text values count WCHARs (and often lie); binary ones count bytes.
  const valueBytes = type === 1 ? valueLength * 2 : valueLength;
  return { key, type, valueAt, valueLength: valueBytes, childrenAt: align4(valueAt + valueBytes), end };
}

function* children(b: Buffer, parent: Block, budget: { n: number }): Generator<Block> {
  let at = parent.childrenAt;
  while (at < parent.end && budget.n-- > 0) {
    const c = readBlock(b, at, parent.end);
    if (c === undefined) return;
    yield c;
    at = align4(c.end);
  }
}

/** Parses a VS_VERSIONINFO block (exported for tests and fuzzing). */
export function parseVersionInfo(b: Buffer): PeVersionInfo | undefined {
  const root = readBlock(b, 0, b.length);
  if (root?.key !== 'VS_VERSION_INFO') return undefined;
  const budget = { n: MAX_BLOCKS };
  const tables = new Map<string, Map<string, string>>();
  const translations: string[] = [];
  for (const section of children(b, root, budget)) {
    if (section.key === 'StringFileInfo') {
      for (const table of children(b, { ...section, childrenAt: section.valueAt }, budget)) {
        const strings = new Map<string, string>();
        for (const s of children(b, { ...table, childrenAt: table.valueAt }, budget)) {
          if (s.valueAt >= s.end) continue;
          const text = b.toString('utf16le', s.valueAt, s.valueAt + ((s.end - s.valueAt) & ~1));
          const nul = text.indexOf('\0');
          strings.set(s.key, nul < 0 ? text : text.slice(0, nul));
        }
        const key = table.key.toLowerCase();
        if (!tables.has(key)) tables.set(key, strings);
      }
    } else if (section.key === 'VarFileInfo') {
      for (const v of children(b, section, budget)) {
        if (v.key !== 'Translation') continue;
        for (let p = v.valueAt; p + 4 <= Math.min(v.valueAt + v.valueLength, v.end); p += 4) {
          translations.push(b.readUInt16LE(p).toString(16).padStart(4, '0') + b.readUInt16LE(p + 2).toString(16).padStart(4, '0'));
        }
      }
    }
  }
  const pick = (key: string | undefined): PeVersionInfo | undefined => {
    const t = key === undefined ? undefined : tables.get(key);
    if (t === undefined) return undefined;
    const out: PeVersionInfo = {};
    for (const [name, field] of Object.entries(KEYS)) {
      const value = t.get(name);
      if (value !== undefined && value.length > 0) out[field] = value;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const order = [translations[0], ...FALLBACK, tables.keys().next().value];
  for (const key of order) {
    const found = pick(key);
    if (found !== undefined) return found;
  }
  return tables.size > 0 ? {} : undefined;
}
