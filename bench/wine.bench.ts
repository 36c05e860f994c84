import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeExe, setUpWine, tearDownWine, winPath } from '../testkit/wine.js';
import type { BenchTable } from './harness.js';

/**
 * The Windows collector's Win32 calls for real, under wine 8.0 (not Windows: wine answers from
 * Linux's /proc and its own process list), through koffi in the Windows node.exe. Reference: a
 * pure-JS JSON.parse of 1,000 listeners in the same node.exe, so the ratios survive a busy machine.
 */
const here = dirname(fileURLToPath(import.meta.url));

interface Result {
  error?: string;
  reference: number; tcp4: number; udp4: number; allTables: number; processTable: number; imagePath: number;
  counts: { tcp4: number; tcp6: number; udp4: number; udp6: number; processes: number };
  missing: string[];
}

export default async function bench(): Promise<BenchTable[]> {
  const title = 'Win32 calls of the Windows collector under wine (wine, not Windows)';
  const setup = setUpWine();
  if (!setup.ok) return [{ title, columns: ['call'], rows: [], notes: [`skipped: ${setup.reason}`] }];
  const w = setup.wine;
  const dir = mkdtempSync(join(tmpdir(), 'pw-wine-bench-'));
  try {
    const out = join(dir, 'calls.json');
    const code = await runNodeExe(w, [winPath(join(here, 'wine-calls.js')), winPath(out)], { stdout: join(dir, 'out'), stderr: join(dir, 'err') });
    if (code !== 0 || !existsSync(out)) throw new Error(`wine-calls.js exited ${code}: ${readFileSync(join(dir, 'err'), 'utf8')}`);
    const r = JSON.parse(readFileSync(out, 'utf8')) as Result;
    if (r.error !== undefined) return [{ title, columns: ['call'], rows: [], notes: [`koffi under wine: ${r.error}`] }];
    const c = r.counts;
    const row = (what: string, ms: number): (string | number)[] => [what, ms, ms / r.reference];
    return [{
      title,
      columns: ['call (wine 8.0, koffi, Windows node.exe)', 'ms per call', 'x JSON.parse of 1,000 listeners (same node.exe)'],
      rows: [
        row('JSON.parse, 1,000-listener PowerShell projection (reference)', r.reference),
        row(`GetExtendedTcpTable IPv4 OWNER_MODULE_LISTENER + decode (${c.tcp4} rows)`, r.tcp4),
        row(`GetExtendedUdpTable IPv4 OWNER_MODULE + decode (${c.udp4} rows)`, r.udp4),
        row(`all four tables + decode (${c.tcp4 + c.tcp6 + c.udp4 + c.udp6} rows)`, r.allTables),
        row(`NtQuerySystemInformation + walk (${c.processes} processes)`, r.processTable),
        row('OpenProcess + QueryFullProcessImageNameW + CloseHandle, one pid', r.imagePath),
      ],
      notes: [
        `wine prefix created in ${(w.prefixMs / 1000).toFixed(1)} s (${w.versions.wine}); exports missing under wine: ${r.missing.join(', ') || 'none'}.`,
        'Wine builds the tables from Linux /proc and the process list from its own server: the costs and row counts are not those of Windows.',
      ],
    }];
  } finally {
    tearDownWine(w);
    rmSync(dir, { recursive: true, force: true });
  }
}
