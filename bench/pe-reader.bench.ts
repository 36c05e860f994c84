import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
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

export default async function bench(): Promise<BenchTable[]> {
  const manifestFile = join(repoRoot, '.cache', 'wine', 'manifest.json');
  if (!existsSync(manifestFile)) return [{ title: 'PE reader and executable hashing', columns: ['file'], rows: [], notes: ['skipped: run node scripts/wine-fetch.mjs for the PE files'] }];
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
    notes: ['A file already seen costs one stat (cached by path, size, mtime, file index). Work runs at most 2 files at once, off the poll.'],
  }];
}
