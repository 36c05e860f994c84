import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lsofEndpoint, parseLsofFields } from '../agent/sources/darwin/lsof-parse.js';
import { parsePsLstart } from '../agent/sources/darwin/ps-parse.js';
import { decodeTable } from '../agent/sources/windows/iphlp-decode.js';
import { decodeNetstatOutput, parseNetstat } from '../agent/sources/windows/netstat-parse.js';
import { walkSystemProcessInformation } from '../agent/sources/windows/ntdll-decode.js';
import { buildProcessTable, buildTable } from '../testkit/windows-buffers.js';
import type { BenchTable } from './harness.js';

/**
 * The pure per-poll decoding work of the Windows and macOS collectors at 1,000 sockets or
 * processes (the OS calls themselves cannot run here). Reference: JSON.parse of the same 1,000
 * listeners as the compact PowerShell projection, the cheapest thing the PowerShell path could do.
 */
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', 'test', 'fixtures');
const N = 1000;

function meanMs(fn: () => unknown, runs = 200): number {
  for (let i = 0; i < 20; i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - t0) / runs;
}

export default function bench(): Promise<BenchTable[]> {
  const tcp = buildTable('tcp4', Array.from({ length: N }, (_, i) => ({ address: '0.0.0.0', port: 1024 + i, pid: 8 + i, createTimestamp: 134080000000000000n })));
  const base = 0x2_0000_0000n;
  const procs = buildProcessTable(Array.from({ length: N }, (_, i) => ({ pid: 8 + i * 4, ppid: 4, createTime: 134080000000000000n + BigInt(i), imageName: `proc${i}.exe` })), base);
  const netstat = Buffer.from(['', 'Active Connections', '', '  Proto  Local Address          Foreign Address        State           PID',
    ...Array.from({ length: N }, (_, i) => `  TCP    0.0.0.0:${1024 + i}           0.0.0.0:0              LISTENING       ${8 + i}`)].join('\r\n'));
  const json = JSON.stringify(Array.from({ length: N }, (_, i) => ({ LocalAddress: '0.0.0.0', LocalPort: 1024 + i, OwningProcess: 8 + i, State: 2, Created: '2026-11-20T08:00:00.0000000Z' })));
  const lsofOne = readFileSync(join(fixtures, 'darwin', 'lsof-tcp-listen-F.txt'), 'utf8');
  const lsof = lsofOne.repeat(Math.ceil(N / parseLsofFields(lsofOne).sockets.length));
  const psOne = readFileSync(join(fixtures, 'darwin', 'ps-lstart.txt'), 'utf8').split('\n').filter((l) => l.length > 0);
  const ps = Array.from({ length: N }, (_, i) => psOne[i % psOne.length]).join('\n');

  const ref = meanMs(() => JSON.parse(json));
  const row = (what: string, ms: number): (string | number)[] => [what, ms, ms / ref];
  return Promise.resolve([{
    title: `Decoding ${N.toLocaleString('en-US')} sockets / processes per poll (pure code, this machine)`,
    columns: ['input', 'ms per poll', 'x JSON.parse of the PowerShell projection'],
    rows: [
      row('JSON.parse, Get-NetTCPConnection projection (reference)', ref),
      row('IP Helper TCP_TABLE_OWNER_MODULE_LISTENER decode', meanMs(() => decodeTable('tcp4', tcp))),
      row('SYSTEM_PROCESS_INFORMATION walk', meanMs(() => walkSystemProcessInformation(procs, base))),
      row('netstat -ano decode + parse', meanMs(() => parseNetstat(decodeNetstatOutput(netstat)))),
      row('lsof -F parse + endpoints', meanMs(() => parseLsofFields(lsof).sockets.map(lsofEndpoint))),
      row('ps lstart parse', meanMs(() => parsePsLstart(ps))),
    ],
    notes: ['Not measured (needs Windows/macOS): the Win32 calls, PowerShell start (~0.6 s once) and queries, lsof and ps runtimes.'],
  }]);
}
