import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { computeExeInfo, ExeInfoCache } from '../../../../../agent/sources/pe/exe-info.js';
import { openPe, PeView, readHeaders, DIR_RESOURCE, type PeSection } from '../../../../../agent/sources/pe/pe-image.js';
import { imphash, readImports } from '../../../../../agent/sources/pe/pe-imports.js';
import { parseVersionInfo, readVersionInfo } from '../../../../../agent/sources/pe/pe-version.js';
import { PortwardenError } from '../../../../../agent/util/errors.js';
import { fixture, repoRoot } from '../../../../../testkit/paths.js';
import { fuzzAsync, mutated } from '../../../fuzz/support.js';

// Real PE files: the Windows node.exe and wine's PE DLLs/EXEs that scripts/wine-fetch.mjs fetched,
// checked against pefile (python3-pefile) run on the same files in the test.
const manifestFile = join(repoRoot, '.cache', 'wine', 'manifest.json');
const manifest = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) as { nodeExe: string; prefixTemplate?: string } : undefined;
const system32 = manifest?.prefixTemplate === undefined ? undefined : join(manifest.prefixTemplate, 'drive_c', 'windows', 'system32');
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPefile = spawnSync(python, ['-c', 'import pefile'], { stdio: 'ignore' }).status === 0;
const noFiles = manifest === undefined || system32 === undefined || !existsSync(system32) ? 'the Windows node.exe and wine prefix are not fetched (node scripts/wine-fetch.mjs)' : false;
const skip = noFiles !== false ? noFiles : hasPefile ? false : 'pefile is not installed (Debian: apt-get install python3-pefile)';

function realFiles(): string[] {
  if (manifest === undefined || system32 === undefined) return [];
  // Named ones first (ordinal imports of ws2_32/oleaut32 live in these), then every 7th file for breadth.
  const named = ['notepad.exe', 'kernel32.dll', 'ws2_32.dll', 'wsock32.dll', 'oleaut32.dll', 'msvcrt.dll', 'user32.dll', 'cmd.exe', 'wininet.dll', 'shell32.dll'];
  const all = readdirSync(system32).filter((f) => /\.(dll|exe)$/i.test(f)).sort();
  const chosen = new Set([...named.filter((f) => all.includes(f)), ...all.filter((_, i) => i % 7 === 0)]);
  return [manifest.nodeExe, ...[...chosen].map((f) => join(system32, f))];
}

const KEYS: Record<string, string> = { OriginalFilename: 'originalFileName', FileDescription: 'description', ProductName: 'product', CompanyName: 'company', FileVersion: 'fileVersion' };

test('imphash and version strings equal pefile\'s on real PE files (node.exe, wine\'s system32)', { skip }, async () => {
  const files = realFiles();
  const out = spawnSync(python, [fixture('pe', 'pefile-reference.py'), ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(out.status, 0, out.stderr);
  const refs = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as { f: string; imphash?: string; version?: { tables: Record<string, Record<string, string>>; tr: string | null } | null });
  assert.equal(refs.length, files.length);
  let imports = 0;
  let versions = 0;
  for (const ref of refs) {
    const info = await computeExeInfo(ref.f, { hashes: ['imphash'], maxHashBytes: 0 });
    assert.equal(info.imphash ?? '', ref.imphash ?? '', `imphash of ${ref.f}`);
    if (ref.imphash !== undefined && ref.imphash !== '') imports++;
    const tables = ref.version?.tables ?? {};
    if (Object.keys(tables).length === 0) continue;
    const table = tables[(ref.version?.tr ?? '').toLowerCase()] ?? tables['040904b0'] ?? Object.values(tables)[0] ?? {};
    const expected: Record<string, string> = {};
    for (const [k, v] of Object.entries(table)) if (KEYS[k] !== undefined && v !== '') expected[KEYS[k]] = v;
    assert.deepEqual(info.version ?? {}, expected, `version strings of ${ref.f}`);
    versions++;
  }
  assert.ok(imports >= 20 && versions >= 20, `enough files compared (${imports} with imports, ${versions} with version info)`);
  const node = await computeExeInfo(manifest?.nodeExe ?? '', { hashes: [], maxHashBytes: 0 });
  assert.equal(node.version?.product, 'Node.js');
  assert.equal(node.version.originalFileName, 'node.exe');
});

test('md5, sha1 and sha256 equal md5sum/sha1sum/sha256sum; files over the cap are not hashed but still read', { skip: noFiles }, async () => {
  const file = join(system32 ?? '', 'kernel32.dll');
  const info = await computeExeInfo(file, { hashes: ['md5', 'sha1', 'sha256', 'imphash'], maxHashBytes: 1024 ** 3 });
  for (const algo of ['md5', 'sha1', 'sha256'] as const) {
    const sum = spawnSync(`${algo}sum`, [file], { encoding: 'utf8' }).stdout.split(' ')[0];
    assert.equal(info[algo], sum, algo);
  }
  const capped = await computeExeInfo(file, { hashes: ['sha256', 'imphash'], maxHashBytes: 1000 });
  assert.equal(capped.sha256, undefined);
  assert.match(capped.error ?? '', /over the hashing cap of 1000/);
  assert.equal(capped.imphash, info.imphash);
  assert.equal(capped.version?.originalFileName, 'kernel32.dll');
});

/** A file a.exe holding `content`, in a temp dir removed after the test. */
function tempFile(t: TestContext, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pe-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const f = join(dir, 'a.exe');
  writeFileSync(f, content);
  return f;
}

test('the cache reads a file once per identity and again after it changes', async (t) => {
  const f = tempFile(t, 'MZ not really');
  let computed = 0;
  const cache = new ExeInfoCache({ hashes: ['sha256'], maxHashBytes: 1e6 }, async (p, o) => { computed++; return computeExeInfo(p, o); });
  const [a, b] = await Promise.all([cache.get(f), cache.get(f)]);
  assert.equal(a, b);
  assert.equal(computed, 1, 'concurrent asks share one read');
  assert.match(a.error ?? '', /not a PE file/);
  assert.equal(a.sha256, createHash('sha256').update('MZ not really').digest('hex'), 'non-PE files are still hashed');
  await cache.get(f);
  assert.equal(computed, 1);
  writeFileSync(f, 'MZ changed, longer');
  const c = await cache.get(f);
  assert.equal(computed, 2);
  assert.notEqual(c.sha256, a.sha256);
});

const fromBuffer = (b: Buffer) => (o: number, l: number): Promise<Buffer> => Promise.resolve(b.subarray(o, o + l));
const allowed = (err: unknown): boolean => err instanceof PortwardenError && err.code === 'PE_FORMAT';

async function readAll(b: Buffer): Promise<unknown> {
  const pe = await openPe(fromBuffer(b), b.length, 4 * 1024 * 1024);
  return [await pe.run(readVersionInfo), imphash(await pe.run(readImports))];
}

test('hostile PE files: truncated anywhere, resource directories that loop, huge entry counts give an error or less, never a crash', { skip: noFiles }, async () => {
  const real = readFileSync(join(system32 ?? '', 'ws2_32.dll'));
  for (let cut = 0; cut < real.length; cut += Math.max(1, Math.floor(real.length / 97))) {
    try {
      await readAll(real.subarray(0, cut));
    } catch (err) {
      assert.ok(allowed(err), `cut at ${cut}: ${String(err)}`);
    }
  }
  await assert.rejects(readAll(Buffer.from('MZ')), /shorter than a DOS header/);
  // The RT_VERSION entry made to point back at the root directory: a loop.
  const h = await readHeaders(fromBuffer(real), real.length);
  const rsrc = h.dirs[DIR_RESOURCE]?.rva ?? 0;
  const s = h.sections.find((x) => x.va <= rsrc && rsrc < x.va + x.span);
  assert.ok(s);
  const root = s.raw + (rsrc - s.va);
  const looped = Buffer.from(real);
  const n = looped.readUInt16LE(root + 12) + looped.readUInt16LE(root + 14);
  for (let i = 0; i < n; i++) if (looped.readUInt32LE(root + 16 + i * 8) === 16) looped.writeUInt32LE(0x80000000, root + 16 + i * 8 + 4);
  const [version] = await readAll(looped) as [unknown];
  assert.equal(version, undefined, 'a looping resource tree gives no version info');
  // 65,535 + 65,535 entries claimed at the root: a bounded read, no version found past the data.
  const huge = Buffer.from(real);
  huge.writeUInt16LE(0xffff, root + 12);
  huge.writeUInt16LE(0xffff, root + 14);
  await readAll(huge).catch((err: unknown) => { assert.ok(allowed(err), String(err)); });
  // VS_VERSIONINFO blocks with zero or overlong lengths.
  assert.equal(parseVersionInfo(Buffer.alloc(64)), undefined);
  const block = Buffer.alloc(64);
  block.writeUInt16LE(0xffff, 0);
  block.write('VS_VERSION_INFO\0', 6, 'utf16le');
  assert.deepEqual(parseVersionInfo(block), undefined);
});

test('fuzz: mutated real PE files and random bytes only ever give PE_FORMAT errors', { skip: noFiles }, async () => {
  const seeds = ['ws2_32.dll', 'notepad.exe'].map((f) => readFileSync(join(system32 ?? '', f)));
  await fuzzAsync(fc.oneof(mutated(...seeds), fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a))), readAll, allowed, 300);
});

test('the cache reads again a file rewritten in place with its size and modification time kept', async (t) => {
  const f = tempFile(t, 'MZ benign');
  utimesSync(f, 1e9, 1e9);
  const cache = new ExeInfoCache({ hashes: ['sha256'], maxHashBytes: 1e6 }, computeExeInfo);
  const before = await cache.get(f);
  const first = statSync(f, { bigint: true });
  // Same inode, same size, modification time set back: only the change time tells (it ticks coarsely, so rewrite until it moves).
  do {
    writeFileSync(f, 'MZ evil!!');
    utimesSync(f, 1e9, 1e9);
  } while (statSync(f, { bigint: true }).ctimeNs === first.ctimeNs);
  const now = statSync(f, { bigint: true });
  assert.deepEqual([now.ino, now.size, now.mtimeNs], [first.ino, first.size, first.mtimeNs]);
  const after = await cache.get(f);
  assert.notEqual(after.sha256, before.sha256);
  assert.equal(after.sha256, createHash('sha256').update('MZ evil!!').digest('hex'));
});

test('a read that throws gives an error result, is not cached and is tried again', async (t) => {
  const f = tempFile(t, 'MZ');
  let calls = 0;
  const cache = new ExeInfoCache({ hashes: ['sha256'], maxHashBytes: 1e6 }, async (p, o) => {
    calls++;
    if (calls === 1) throw new Error('EIO: i/o error, read');
    return computeExeInfo(p, o);
  });
  assert.deepEqual(await cache.get(f), { error: 'EIO: i/o error, read' });
  const again = await cache.get(f);
  assert.equal(calls, 2);
  assert.equal(again.sha256, createHash('sha256').update('MZ').digest('hex'));
});

test('devices are not read: /dev/zero would never end', { skip: !existsSync('/dev/zero'), timeout: 30_000 }, async () => {
  assert.deepEqual(await computeExeInfo('/dev/zero', { hashes: ['sha256'], maxHashBytes: 1e6 }), { error: 'not a regular file' });
  const cache = new ExeInfoCache({ hashes: ['sha256'], maxHashBytes: 1e6 });
  assert.deepEqual(await cache.get('/dev/zero'), { error: 'not a regular file' });
});

type SectionSpec = [name: string, vsize: number, va: number, rawSize: number, raw: number];

/**
 * A PE32 whose import descriptor is at `desc` in the section `sections[importIn]`, importing
 * `count` functions of KERNEL32.dll (F0, F1, ...) through an ILT at `ilt` (in `sections[tablesIn]`),
 * an IAT, the names and the DLL name placed after it.
 */
function buildPe(o: { size: number; fileAlign: number; sections: SectionSpec[]; importIn: number; tablesIn?: number; desc: number; ilt: number; count: number }): Buffer {
  const b = Buffer.alloc(o.size);
  b.write('MZ', 0);
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  b.writeUInt16LE(0x14c, 0x44);
  b.writeUInt16LE(o.sections.length, 0x46);
  b.writeUInt16LE(0xe0, 0x54);
  const opt = 0x58;
  b.writeUInt16LE(0x10b, opt);
  b.writeUInt32LE(0x1000, opt + 32);
  b.writeUInt32LE(o.fileAlign, opt + 36);
  b.writeUInt32LE(0x400, opt + 60);
  b.writeUInt32LE(16, opt + 92);
  b.writeUInt32LE(o.desc, opt + 104);
  b.writeUInt32LE(40, opt + 108);
  o.sections.forEach(([name, vsize, va, rawSize, raw], i) => {
    const at = opt + 0xe0 + i * 40;
    b.write(name, at, 'latin1');
    b.writeUInt32LE(vsize, at + 8);
    b.writeUInt32LE(va, at + 12);
    b.writeUInt32LE(rawSize, at + 16);
    b.writeUInt32LE(raw, at + 20);
  });
  // Raw offsets rounded down to 512 where FileAlignment is at least 0x200, as the loader and pefile take them.
  const offsetIn = (i: number) => (rva: number): number => { const [, , va, , raw] = o.sections[i] ?? ['', 0, 0, 0, 0]; return (o.fileAlign < 0x200 ? raw : raw & ~0x1ff) + rva - va; };
  const at = offsetIn(o.tablesIn ?? o.importIn);
  const iat = o.ilt + (o.count + 1) * 4;
  const names = iat + (o.count + 1) * 4;
  const dll = names + o.count * 16;
  const d = offsetIn(o.importIn)(o.desc);
  b.writeUInt32LE(o.ilt, d);
  b.writeUInt32LE(dll, d + 12);
  b.writeUInt32LE(iat, d + 16);
  for (let i = 0; i < o.count; i++) {
    b.writeUInt32LE(names + i * 16, at(o.ilt) + i * 4);
    b.writeUInt32LE(names + i * 16, at(iat) + i * 4);
    b.write(`F${i}\0`, at(names + i * 16) + 2, 'latin1');
  }
  b.write('KERNEL32.dll\0', at(dll), 'latin1');
  return b;
}

/** Our imports and imphash of `b`, checked against pefile's imphash when python3-pefile is installed. */
async function importsLikePefile(b: Buffer, dir: string): Promise<string[]> {
  const pe = await openPe(fromBuffer(b), b.length);
  const imports = await pe.run(readImports);
  if (hasPefile) {
    writeFileSync(join(dir, 'o.exe'), b);
    const ref = spawnSync(python, ['-c', 'import pefile,sys; print(pefile.PE(sys.argv[1]).get_imphash())', join(dir, 'o.exe')], { encoding: 'utf8' });
    assert.equal(ref.stdout.trim(), imphash(imports) ?? '', 'pefile agrees');
  }
  return imports.map((i) => `${i.dll}!${i.name ?? i.ordinal ?? ''}`);
}

const F = (n: number): string[] => Array.from({ length: n }, (_, i) => `KERNEL32.dll!F${i}`);

test('PE layouts pefile reads its own way: section headers out of address order, file alignment under 0x200, descriptors at the end of the file, unaligned raw data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pe-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  // .a (0x1000) claims 0x3000 bytes; pefile sorts the sections by address and cuts .a at .c (0x2000), which holds the imports.
  const unordered: SectionSpec[] = [['.a', 0x3000, 0x1000, 0x1800, 0x400], ['.b', 0x1000, 0x3000, 0x200, 0x2c00], ['.c', 0x1000, 0x2000, 0x1000, 0x1c00]];
  assert.deepEqual(await importsLikePefile(buildPe({ size: 0x2e00, fileAlign: 0x200, sections: unordered, importIn: 2, desc: 0x2500, ilt: 0x2600, count: 1 }), dir), F(1));
  // FileAlignment 0x20: raw data offsets are taken as they are, not rounded down to 512.
  const small: SectionSpec[] = [['.c', 0x1000, 0x1000, 0x400, 0x420]];
  assert.deepEqual(await importsLikePefile(buildPe({ size: 0x820, fileAlign: 0x20, sections: small, importIn: 0, desc: 0x1000, ilt: 0x1040, count: 3 }), dir), F(3));
  // Descriptors in the file's last 40 bytes, thunk tables at higher addresses but earlier in the
  // file: pefile walks each table at most as many bytes as the file has after the descriptor (40
  // bytes: 10 entries of 4).
  const tail: SectionSpec[] = [['.c', 0x1000, 0x1000, 0x200, 0x600], ['.a', 0x1000, 0x2000, 0x200, 0x400]];
  assert.deepEqual(await importsLikePefile(buildPe({ size: 0x800, fileAlign: 0x200, sections: tail, importIn: 0, tablesIn: 1, desc: 0x11d8, ilt: 0x2000, count: 16 }), dir), F(10));
  // PointerToRawData 0x410 is read from 0x400, but the section's data still ends at 0x410 + 0x400:
  // the DLL name in its last bytes (0x7fa-0x806) is read whole.
  const unaligned: SectionSpec[] = [['.c', 0x1000, 0x1000, 0x400, 0x410]];
  assert.deepEqual(await importsLikePefile(buildPe({ size: 0x820, fileAlign: 0x200, sections: unaligned, importIn: 0, desc: 0x1000, ilt: 0x13da, count: 1 }), dir), F(1));
});

test('with many sections, RVAs map to the same section as a scan in address order does (overlaps, gaps, empty spans)', () => {
  const section = fc.record({ va: fc.integer({ min: 0, max: 0x4000 }), span: fc.integer({ min: 0, max: 0x3000 }) });
  fc.assert(fc.property(fc.array(section, { minLength: 17, maxLength: 80 }), fc.array(fc.integer({ min: -1, max: 0x8000 }), { minLength: 1, maxLength: 200 }), (raw, rvas) => {
    const sections: PeSection[] = raw.sort((a, b) => a.va - b.va).map((s, index) => ({ index, va: s.va, span: s.span, raw: 0, rawEnd: 0 }));
    const view = new PeView({ is64: false, machine: 0, sections, dirs: [], fileSize: 0 }, Buffer.alloc(0));
    for (const rva of rvas) assert.equal(view.sectionOf(rva), sections.find((s) => s.va <= rva && rva < s.va + s.span), `rva 0x${rva.toString(16)}`);
  }), { numRuns: 300 });
});
