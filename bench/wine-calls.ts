/**
 * Runs inside the Windows node.exe under wine (bench/wine.bench.ts starts it): times the real Win32
 * calls of the Windows collector through koffi, and a pure-JS reference in the same process.
 * Writes its results as JSON to the file named by argv[2] (wine cannot give node.exe a pipe).
 */
import { writeFileSync } from 'node:fs';
import { decodeTable } from '../agent/sources/windows/iphlp-decode.js';
import { loadWindowsNative } from '../agent/sources/windows/native-ffi.js';
import { walkSystemProcessInformation } from '../agent/sources/windows/ntdll-decode.js';

function meanMs(fn: () => unknown, runs: number): number {
  for (let i = 0; i < Math.min(10, runs); i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - t0) / runs;
}

const out = process.argv[2];
if (out === undefined) throw new Error('usage: wine-calls.js OUT.json');
const load = await loadWindowsNative();
if (load.kind !== 'ok') {
  writeFileSync(out, JSON.stringify({ error: load.reason }));
} else {
  const n = load.native;
  const json = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ LocalAddress: '0.0.0.0', LocalPort: 1024 + i, OwningProcess: 8 + i, State: 2, Created: '2026-11-20T08:00:00.0000000Z' })));
  const procs = walkSystemProcessInformation(n.processTable().buffer, n.processTable().base).entries;
  const pids = procs.map((p) => p.pid).filter((p) => p > 4);
  let pi = 0;
  const rows = (kind: 'tcp4' | 'tcp6' | 'udp4' | 'udp6') => decodeTable(kind, n.table(kind)).rows.length;
  writeFileSync(out, JSON.stringify({
    reference: meanMs(() => JSON.parse(json), 200),
    tcp4: meanMs(() => decodeTable('tcp4', n.table('tcp4')), 200),
    udp4: meanMs(() => decodeTable('udp4', n.table('udp4')), 200),
    allTables: meanMs(() => (['tcp4', 'tcp6', 'udp4', 'udp6'] as const).map((k) => decodeTable(k, n.table(k))), 100),
    processTable: meanMs(() => { const p = n.processTable(); return walkSystemProcessInformation(p.buffer, p.base); }, 100),
    imagePath: meanMs(() => n.imagePath(pids[pi++ % pids.length] ?? 0), 200),
    counts: { tcp4: rows('tcp4'), tcp6: rows('tcp6'), udp4: rows('udp4'), udp6: rows('udp6'), processes: procs.length },
    missing: n.missing?.map((m) => m.fn) ?? [],
  }));
}
