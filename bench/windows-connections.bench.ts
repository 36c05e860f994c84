import { connectionsFromNative, OutboundTracker } from '../agent/sources/windows/outbound.js';
import type { WindowsNative } from '../agent/sources/windows/native.js';
import { buildTable, type RowSpec } from '../testkit/windows-buffers.js';
import type { BenchTable } from './harness.js';

/**
 * The pure per-poll work of Windows outbound connections (agent/sources/windows/outbound.ts) at
 * 10,000 open connections: the OWNER_PID_CONNECTIONS table compared with the last poll's, decoded
 * and matched against the tracked set (the GetExtendedTcpTable call cannot run here). Reference:
 * JSON.parse of the same connections as a Get-NetTCPConnection projection.
 */
const N = 10_000;
const ESTABLISHED = 5;

function rows(newEvery: number, round: number): RowSpec[] {
  return Array.from({ length: N }, (_, i) => ({
    address: '10.0.0.5', port: 20_000 + i + (newEvery > 0 && i % newEvery === 0 ? round * N : 0) % 40_000, pid: 1000 + (i % 300),
    state: ESTABLISHED, remoteAddress: `203.0.${(i >> 8) & 255}.${i & 255}`, remotePort: 443,
  }));
}

/** Mean ms per poll over `runs` polls alternating between two tables (the first poll, the baseline, not counted). */
function perPoll(newEvery: number, runs = 40): { ms: number; reported: number } {
  const tables = [0, 1].map((r) => buildTable('tcp4', rows(newEvery, r), 'pid'));
  let current = tables[0] ?? Buffer.alloc(0);
  const native = { connections: (kind: 'tcp4' | 'tcp6') => (kind === 'tcp4' ? current : Buffer.alloc(4)) } as unknown as WindowsNative;
  const tracker = new OutboundTracker({ loopback: false, windowMs: 60_000 }, -1);
  const last = {};
  const owner = (pid: number) => ({ name: 'app.exe', startKey: String(pid) });
  const poll = (i: number): number => {
    const found = connectionsFromNative(native, [], last);
    return found === undefined ? 0 : tracker.update(found, new Set(), owner, i * 1000, []).length;
  };
  poll(0);
  let reported = 0;
  const t0 = performance.now();
  for (let i = 1; i <= runs; i++) {
    current = tables[i % 2] ?? current;
    reported += poll(i);
  }
  return { ms: (performance.now() - t0) / runs, reported: reported / runs };
}

/**
 * Mean ms per poll when the dedupe keys are full of stale keys with folds (16,000 peers each met
 * twice within the window, then quiet past it) and each poll brings 2,000 connections to new peers.
 */
function staleFolds(runs = 10): { ms: number; reported: number } {
  const tracker = new OutboundTracker({ loopback: false, windowMs: 60_000 }, -1);
  const owner = (pid: number) => ({ name: 'app.exe', startKey: String(pid) });
  let port = 0;
  const batch = (n: number, net: number) => Array.from({ length: n }, (_, i) => ({
    pid: 1000, family: 'ipv4' as const, localAddress: '10.0.0.5', localPort: 1024 + (port++ % 60_000), remoteAddress: `198.${net}.${(i >> 8) & 255}.${i & 255}`, remotePort: 443,
  }));
  tracker.update([], new Set(), owner, 0, []);
  for (let b = 0; b < 4; b++) for (const at of [0, 1000]) tracker.update(batch(4000, 18 + b), new Set(), owner, at, []);
  let reported = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) reported += tracker.update(batch(2000, 100 + i), new Set(), owner, 61_000 + i * 1000, []).length;
  return { ms: (performance.now() - t0) / runs, reported: reported / runs };
}

export default function bench(): Promise<BenchTable[]> {
  const json = JSON.stringify(rows(0, 0).map((r) => ({ LocalAddress: r.address, LocalPort: r.port, RemoteAddress: r.remoteAddress, RemotePort: r.remotePort, OwningProcess: r.pid, State: 5 })));
  for (let i = 0; i < 5; i++) JSON.parse(json);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) JSON.parse(json);
  const ref = (performance.now() - t0) / 20;
  const row = (what: string, r: { ms: number; reported: number }): (string | number)[] => [what, r.ms, r.ms / ref, r.reported];
  return Promise.resolve([{
    title: `Windows outbound connections: ${N.toLocaleString('en-US')} open connections per poll (pure code, this machine)`,
    columns: ['table between polls', 'ms per poll', 'x JSON.parse of the projection', 'events per poll'],
    rows: [
      ['JSON.parse, Get-NetTCPConnection projection (reference)', ref, 1, 0],
      row('unchanged (byte compare only)', perPoll(0)),
      row('1 % new connections', perPoll(100)),
      row('every connection new (worst case)', perPoll(1)),
      row('2,000 new peers; 16,000 dedupe keys past their window with folds', staleFolds()),
    ],
    notes: ['Not measured (needs Windows): the GetExtendedTcpTable calls themselves.'],
  }]);
}
