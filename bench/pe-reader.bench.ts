import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeExeInfo } from '../agent/sources/pe/exe-info.js';
import { repoRoot } from '../testkit/paths.js';
import type { BenchTable } from './harness.js';

/**
 * What the Windows collector spends on one executable it has not seen (a cache miss): PE version
 * info + imphash from bounded reads, and the default hashes (md5, sha1, sha256) in one streamed
 * pass. Files: the Windows node.exe and wine DLLs that scripts/wine-fetch.mjs fetched (page cache
 * warm). Reference: `sha256sum` of the same file, run in the same measurement.
 */
async function meanMs(fn: () => unknown, runs: number): Promise<number> {
  await fn();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - t0) / runs;
}

/**
 * A hostile PE32 (17 MiB): 2,048 sections, the import data in the last one, 8,000 imported names
 * spread over 254 pages of 64 KiB, so the reader reruns its import step once per page it reads.
 */
function hostilePe(): Buffer {
  const sections = 2048;
  const names = 8000;
  const page = 65536;
  const dataRaw = 0x20000;
  const b = Buffer.alloc(dataRaw + 257 * page);
  b.write('MZ', 0);
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  b.writeUInt16LE(0x14c, 0x44);
  b.writeUInt16LE(sections, 0x46);
  b.writeUInt16LE(0xe0, 0x54);
  const opt = 0x58;
  b.writeUInt16LE(0x10b, opt);
  b.writeUInt32LE(0x1000, opt + 32);
  b.writeUInt32LE(0x200, opt + 36);
  b.writeUInt32LE(16, opt + 92);
  const va = 0x10000000;
  for (let i = 0; i < sections; i++) {
    const o = opt + 0xe0 + i * 40;
    const last = i === sections - 1;
    b.writeUInt32LE(last ? 257 * page : 0x1000, o + 8);
    b.writeUInt32LE(last ? va : 0x1000 * (i + 1), o + 12);
    b.writeUInt32LE(last ? 257 * page : 0x200, o + 16);
    b.writeUInt32LE(last ? dataRaw : 0x200, o + 20);
  }
  const at = (rva: number): number => dataRaw + rva - va;
  const ilt = va + 0x100;
  const iat = ilt + (names + 1) * 4;
  const dll = iat + (names + 1) * 4;
  b.writeUInt32LE(va, opt + 104);
  b.writeUInt32LE(40, opt + 108);
  b.writeUInt32LE(ilt, at(va));
  b.writeUInt32LE(dll, at(va) + 12);
  b.writeUInt32LE(iat, at(va) + 16);
  b.write('K.dll\0', at(dll), 'latin1');
  for (let i = 0; i < names; i++) {
    const name = va + (1 + Math.floor((i * 254) / names)) * page + (i % 3000) * 20 - (dataRaw % page);
    b.writeUInt32LE(name, at(ilt) + i * 4);
    b.writeUInt32LE(name, at(iat) + i * 4);
    b.write(`F${i}\0`, at(name) + 2, 'latin1');
  }
  return b;
}

async function hostile(): Promise<BenchTable> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-pe-'));
  try {
    const f = join(dir, 'hostile.exe');
    writeFileSync(f, hostilePe());
    const ref = await meanMs(() => spawnSync('sha256sum', [f], { stdio: 'ignore' }), 5);
    const pe = await meanMs(() => computeExeInfo(f, { hashes: ['imphash'], maxHashBytes: 0 }), 3);
    return {
      title: 'A hostile PE file (17 MiB, 2,048 sections, imports over 254 pages): PE info + imphash vs sha256sum of the same file',
      columns: ['sha256sum ms', 'PE info + imphash ms', 'x sha256sum'],
      rows: [[ref, pe, pe / ref]],
      notes: ['Bounded by the 16 MiB read cap; the import step reruns once per page it reads. Section lookups by binary search keep each rerun short.'],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<BenchTable[]> {
  const worst = await hostile();
  const manifestFile = join(repoRoot, '.cache', 'wine', 'manifest.json');
  if (!existsSync(manifestFile)) return [{ title: 'PE reader and executable hashing', columns: ['file'], rows: [], notes: ['skipped: run node scripts/wine-fetch.mjs for the PE files'] }, worst];
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { nodeExe: string; prefixTemplate: string };
  const sys = join(manifest.prefixTemplate, 'drive_c', 'windows', 'system32');
  const files = [manifest.nodeExe, join(sys, 'shell32.dll'), join(sys, 'kernel32.dll')].filter((f) => existsSync(f));
  const rows: (string | number)[][] = [];
  for (const f of files) {
    const mib = statSync(f).size / 1024 / 1024;
    const runs = mib > 20 ? 5 : 30;
    const ref = await meanMs(() => spawnSync('sha256sum', [f], { stdio: 'ignore' }), runs);
    const pe = await meanMs(() => computeExeInfo(f, { hashes: ['imphash'], maxHashBytes: 0 }), runs);
    const all = await meanMs(() => computeExeInfo(f, { hashes: ['md5', 'sha1', 'sha256', 'imphash'], maxHashBytes: 1024 ** 3 }), runs);
    const sha = await meanMs(() => computeExeInfo(f, { hashes: ['sha256'], maxHashBytes: 1024 ** 3 }), runs);
    const name = f.split(/[\\/]/).pop() ?? f;
    rows.push([`${name} (${mib.toFixed(1)} MiB)`, ref, pe, pe / ref, sha / ref, all, all / ref]);
  }
  return [{
    title: 'One executable, first sight (cache miss): PE reader and hashes vs sha256sum of the same file',
    columns: ['file', 'sha256sum ms', 'PE info + imphash ms', 'x sha256sum', 'PE + sha256 x sha256sum', 'PE + md5+sha1+sha256 ms', 'x sha256sum'],
    rows,
    notes: ['A file already seen costs one stat (cached by path, size, modification and change times, file index). Work runs at most 2 files at once, off the poll.'],
  }, worst];
}
