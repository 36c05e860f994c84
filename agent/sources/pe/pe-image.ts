import { PortwardenError } from '../../util/errors.js';

/**
 * PE headers and RVA reading over a bounded part of a file. Only the headers and the sections a
 * step asks for are read, each at most `maxSectionBytes`; a hostile or truncated file gives a
 * PE_FORMAT error (or a short read the caller treats as absent), never an unbounded allocation.
 * Section placement follows pefile (github.com/erocarrera/pefile), so imphashes and version
 * strings equal the ones pefile, YARA and VirusTotal report.
 */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

export interface PeSection {
  index: number;
  /** Section-alignment-adjusted virtual address, as pefile adjusts it. */
  va: number;
  /** Virtual size this section covers (pefile's contains_rva rule). */
  span: number;
  /** File offset of its raw data (rounded down to 512 where FileAlignment is at least 0x200, as pefile does). */
  raw: number;
  /** Where its raw data ends: the header's PointerToRawData + SizeOfRawData, unrounded (pefile). */
  rawEnd: number;
}

export interface PeHeaders {
  is64: boolean;
  machine: number;
  sections: PeSection[];
  /** Data directories (index 1: imports, 2: resources). */
  dirs: { rva: number; size: number }[];
  fileSize: number;
}

export const DIR_IMPORT = 1;
export const DIR_RESOURCE = 2;
const MAX_SECTIONS = 0x800; // pefile's bound
const HEAD = 4096;

export function peError(message: string): PortwardenError {
  return new PortwardenError('PE_FORMAT', message);
}

/** Reads and checks the DOS, NT and section headers (at most ~82 KiB of the file). */
export async function readHeaders(read: ReadAt, fileSize: number): Promise<PeHeaders> {
  if (fileSize < 64) throw peError(`not a PE file: ${fileSize} bytes is shorter than a DOS header`);
  const dos = await read(0, Math.min(fileSize, HEAD));
  if (dos.length < 64 || dos.readUInt16LE(0) !== 0x5a4d) throw peError('not a PE file: no MZ signature');
  const lfanew = dos.readUInt32LE(0x3c);
  if (lfanew + 24 > fileSize) throw peError(`truncated PE file: e_lfanew 0x${lfanew.toString(16)} points past the end (${fileSize} bytes)`);
  const fixed = await read(lfanew, 24);
  if (fixed.length < 24 || fixed.readUInt32LE(0) !== 0x4550) throw peError('not a PE file: no PE signature at e_lfanew');
  const machine = fixed.readUInt16LE(4);
  const count = fixed.readUInt16LE(6);
  const optSize = fixed.readUInt16LE(20);
  if (count > MAX_SECTIONS) throw peError(`implausible PE file: ${count} sections (at most ${MAX_SECTIONS})`);
  const rest = await read(lfanew + 24, optSize + count * 40);
  if (rest.length < Math.min(optSize, 2)) throw peError('truncated PE file: optional header cut short');
  const magic = optSize >= 2 ? rest.readUInt16LE(0) : 0;
  const is64 = magic === 0x20b;
  const u32 = (o: number): number => (o + 4 <= Math.min(optSize, rest.length) ? rest.readUInt32LE(o) : 0);
  const sectionAlign = u32(32);
  const fileAlign = u32(36);
  const dirBase = is64 ? 112 : 96;
  const dirCount = Math.min(u32(is64 ? 108 : 92), 16);
  const dirs: PeHeaders['dirs'] = [];
  for (let i = 0; i < dirCount; i++) dirs.push({ rva: u32(dirBase + i * 8), size: u32(dirBase + i * 8 + 4) });
  const raw: { va: number; vsize: number; rawSize: number; raw: number }[] = [];
  for (let i = 0; i < count; i++) {
    const o = optSize + i * 40;
    if (o + 40 > rest.length) throw peError(`truncated PE file: section header ${i + 1} of ${count} cut short`);
    raw.push({ vsize: rest.readUInt32LE(o + 8), va: rest.readUInt32LE(o + 12), rawSize: rest.readUInt32LE(o + 16), raw: rest.readUInt32LE(o + 20) });
  }
  // pefile sorts the sections by virtual address (stable) before it trims each to the next one and
  // looks RVAs up; headers listed out of order must map overlapping RVAs the same way.
  raw.sort((a, b) => a.va - b.va);
  const sections = raw.map((s, index): PeSection => {
    const va = adjustSectionAlignment(s.va, sectionAlign, fileAlign);
    // pefile rounds raw offsets down to 512 only when FileAlignment is at least 0x200.
    const rawAdj = fileAlign < 0x200 ? s.raw : (s.raw & ~0x1ff) >>> 0;
    let span = fileSize - rawAdj < s.rawSize ? s.vsize : Math.max(s.rawSize, s.vsize);
    const next = raw[index + 1]?.va;
    if (next !== undefined && next > s.va && va + span > next) span = next - va;
    return { index, va, span, raw: rawAdj, rawEnd: s.raw + s.rawSize };
  });
  return { is64, machine, sections, dirs, fileSize };
}

function adjustSectionAlignment(va: number, sectionAlign: number, fileAlign: number): number {
  const align = sectionAlign < 0x1000 ? fileAlign : sectionAlign;
  if (align > 0 && va % align !== 0) return align * Math.floor(va / align);
  return va;
}

const PAGE = 64 * 1024;

/** Thrown by PeView when a step needs file pages not read yet; the driver reads them and reruns the step. */
export class NeedPages extends Error {
  constructor(readonly pages: number[]) {
    super(`PE pages ${pages.join(', ')} not read yet`);
  }
}

/** Synchronous RVA reads over the headers and the 64 KiB file pages read so far. */
export class PeView {
  private readonly pages = new Map<number, Buffer>();

  private index: { points: number[]; owner: (PeSection | undefined)[] } | undefined;

  constructor(readonly h: PeHeaders, private readonly head: Buffer) {}

  /** The first section (by address) holding `rva`. */
  sectionOf(rva: number): PeSection | undefined {
    const list = this.h.sections;
    if (list.length <= 16) return list.find((s) => s.va <= rva && rva < s.va + s.span);
    // Many sections (a hostile file may have 2,048): a linear scan per read, times the step reruns,
    // cost seconds of CPU on the event loop. Between two consecutive section bounds the answer does
    // not change, so it is looked up once per bound and found by binary search.
    this.index ??= sectionIndex(list);
    const { points, owner } = this.index;
    let lo = 0;
    let hi = points.length - 1;
    if (hi < 0 || rva < (points[0] ?? 0)) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((points[mid] ?? 0) <= rva) lo = mid;
      else hi = mid - 1;
    }
    return owner[lo];
  }

  /** pefile's get_offset_from_rva: the file offset an RVA maps to (the RVA itself outside every section). */
  offsetOf(rva: number): number {
    const s = this.sectionOf(rva);
    return s === undefined ? rva : s.raw + (rva - s.va);
  }

  addPage(page: number, data: Buffer): void {
    this.pages.set(page, data);
  }

  /** Up to `len` bytes at `rva` (fewer where the section's file data ends); undefined where nothing maps. */
  bytes(rva: number, len: number): Buffer | undefined {
    if (rva < 0 || len < 0) return undefined;
    const s = this.sectionOf(rva);
    if (s === undefined) return rva < this.head.length ? this.head.subarray(rva, rva + len) : undefined;
    const from = s.raw + (rva - s.va);
    const to = Math.min(from + len, s.rawEnd, this.h.fileSize);
    if (to <= from) return Buffer.alloc(0);
    const first = Math.floor(from / PAGE);
    const last = Math.floor((to - 1) / PAGE);
    const missing: number[] = [];
    for (let p = first; p <= last; p++) if (!this.pages.has(p)) missing.push(p);
    if (missing.length > 0) throw new NeedPages(missing);
    if (first === last) {
      const page = this.pages.get(first) ?? Buffer.alloc(0);
      return page.subarray(from - first * PAGE, to - first * PAGE);
    }
    const parts: Buffer[] = [];
    for (let p = first; p <= last; p++) parts.push(this.pages.get(p) ?? Buffer.alloc(0));
    return Buffer.concat(parts).subarray(from - first * PAGE, to - first * PAGE);
  }

  u32(rva: number): number | undefined {
    const b = this.bytes(rva, 4);
    return b !== undefined && b.length === 4 ? b.readUInt32LE(0) : undefined;
  }

  /** NUL-terminated ASCII/Latin-1 string at `rva`, at most `max` bytes. */
  cstring(rva: number, max: number): Buffer | undefined {
    const b = this.bytes(rva, max);
    if (b === undefined) return undefined;
    const end = b.indexOf(0);
    return end < 0 ? b : b.subarray(0, end);
  }
}

/** Every section bound, ascending, with the first section holding the RVAs from it to the next. */
function sectionIndex(sections: readonly PeSection[]): { points: number[]; owner: (PeSection | undefined)[] } {
  const points = [...new Set(sections.flatMap((s) => [s.va, s.va + s.span]))].sort((a, b) => a - b);
  return { points, owner: points.map((p) => sections.find((s) => s.va <= p && p < s.va + s.span)) };
}

/** Most bytes of one file read for its PE steps together (headers aside): 16 MiB. */
export const DEFAULT_MAX_PE_BYTES = 16 * 1024 * 1024;

/** Opens a PE file for steps: headers now, file pages as steps need them. */
export async function openPe(read: ReadAt, fileSize: number, maxBytes = DEFAULT_MAX_PE_BYTES): Promise<PeReader> {
  const h = await readHeaders(read, fileSize);
  const head = await read(0, Math.min(fileSize, HEAD));
  return new PeReader(new PeView(h, head), read, maxBytes);
}

export class PeReader {
  private total = 0;

  constructor(readonly view: PeView, private readonly read: ReadAt, private readonly maxBytes: number) {}

  /** Runs a synchronous step, reading the pages it touches (within the bound) and rerunning it. */
  async run<T>(step: (v: PeView) => T): Promise<T> {
    for (;;) {
      try {
        return step(this.view);
      } catch (err) {
        if (!(err instanceof NeedPages)) throw err;
        if (this.total + err.pages.length * PAGE > this.maxBytes) throw peError(`PE structures span more than ${this.maxBytes} bytes`);
        this.total += err.pages.length * PAGE;
        for (const p of err.pages) this.view.addPage(p, await this.read(p * PAGE, PAGE));
      }
    }
  }
}
