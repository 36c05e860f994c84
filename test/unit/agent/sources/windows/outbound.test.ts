import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import { CIM_TCP_SCRIPT, CIM_UDP_SCRIPT } from '../../../../../agent/sources/windows/cim-listeners.js';
import { decodeTable } from '../../../../../agent/sources/windows/iphlp-decode.js';
import { decodeNetstatOutput, parseNetstat } from '../../../../../agent/sources/windows/netstat-parse.js';
import { connectionsFromNetstat, OutboundTracker, type ConnectionRow } from '../../../../../agent/sources/windows/outbound.js';
import { createWindowsSource } from '../../../../../agent/sources/windows/source.js';
import { fixture } from '../../../../../testkit/paths.js';
import { buildTable } from '../../../../../testkit/windows-buffers.js';
import { ft, recordedHost } from './recorded-host.js';

/**
 * Outbound connections on Windows: the connection table (TCP_TABLE_OWNER_PID_CONNECTIONS, or
 * netstat -ano rows) polled, each new connection a process opened reported once.
 */
const ESTABLISHED = 5;
const SYN_SENT = 3;
const TIME_WAIT = 11;

test('MIB_TCPROW_OWNER_PID / MIB_TCP6ROW_OWNER_PID: the peer address and port of each connection row', () => {
  const v4 = decodeTable('tcp4', buildTable('tcp4', [
    { address: '10.9.0.2', port: 50123, pid: 5120, state: ESTABLISHED, remoteAddress: '203.0.113.10', remotePort: 443 },
  ], 'pid'), 'pid');
  assert.deepEqual(v4.rows.map((r) => [r.remoteAddress, r.remotePort, r.state]), [['203.0.113.10', 443, ESTABLISHED]]);
  const v6 = decodeTable('tcp6', buildTable('tcp6', [
    { address: '2001:db8::2', port: 50124, pid: 5120, state: SYN_SENT, remoteAddress: '2001:db8:ffff::9', remotePort: 8443 },
    { address: 'fe80::2', scopeId: 7, port: 50125, pid: 5120, state: ESTABLISHED, remoteAddress: 'fe80::9', remoteScopeId: 7, remotePort: 22 },
  ], 'pid'), 'pid');
  assert.deepEqual(v6.rows.map((r) => `${r.address}:${r.port}>${r.remoteAddress ?? ''}:${r.remotePort ?? ''}/${r.state ?? ''}`),
    ['2001:db8::2:50124>2001:db8:ffff::9:8443/3', 'fe80::2%7:50125>fe80::9%7:22/5']);
});

/** The recorded host (node.exe 5120 listens on 8080) with connections watched. */
function watched(t: { after(fn: () => unknown): void }, windowMs = 60_000) {
  const h = recordedHost();
  let now = Date.parse('2026-11-20T09:00:00.000Z');
  const src = createWindowsSource({ logger: memoryLogger(), runner: h.runner, env: {}, now: () => new Date(now), connections: { loopback: false, windowMs } });
  t.after(() => src.shutdown());
  return { h, src, later: (ms: number) => { now += ms; } };
}

test('a new outbound connection is reported once with its process; those open at the first poll, accepted ones, loopback and unowned are not', async (t) => {
  const { h, src, later } = watched(t);
  h.connections.tcp4 = [{ address: '10.9.0.2', port: 50100, pid: 5120, state: ESTABLISHED, remoteAddress: '198.51.100.7', remotePort: 5432 }];
  const first = await src.poll();
  assert.deepEqual(first.connects, [], 'open before the agent looked: not an attempt it saw');
  h.connections.tcp4 = [
    ...h.connections.tcp4,
    { address: '10.9.0.2', port: 50123, pid: 5120, state: SYN_SENT, remoteAddress: '203.0.113.10', remotePort: 443 },
    // Accepted by node.exe's listener on 8080: inbound.
    { address: '10.9.0.2', port: 8080, pid: 5120, state: ESTABLISHED, remoteAddress: '198.51.100.20', remotePort: 61000 },
    { address: '127.0.0.1', port: 50124, pid: 5120, state: ESTABLISHED, remoteAddress: '127.0.0.1', remotePort: 9229 },
    { address: '10.9.0.2', port: 50125, pid: 0, state: ESTABLISHED, remoteAddress: '203.0.113.11', remotePort: 443 },
    { address: '10.9.0.2', port: 50126, pid: 1184, state: TIME_WAIT, remoteAddress: '203.0.113.12', remotePort: 443 },
    { address: '10.9.0.2', port: 50127, pid: process.pid, state: ESTABLISHED, remoteAddress: '203.0.113.13', remotePort: 514 },
  ];
  h.connections.tcp6 = [{ address: '::ffff:a09:2', port: 50130, pid: 2208, state: ESTABLISHED, remoteAddress: '::ffff:c000:235', remotePort: 853 }];
  later(5000);
  const second = await src.poll();
  assert.deepEqual(second.connects?.map((c) => ({ ...c })), [
    { pid: 5120, name: 'node.exe', netns: 'host', transport: 'tcp', family: 'ipv4', sourceAddress: '10.9.0.2', sourcePort: 50123, destinationAddress: '203.0.113.10', destinationPort: 443, suppressed: 0 },
    { pid: 2208, name: 'svchost.exe', netns: 'host', transport: 'tcp', family: 'ipv4', sourceAddress: '10.9.0.2', sourcePort: 50130, destinationAddress: '192.0.2.53', destinationPort: 853, suppressed: 0 },
  ]);
  later(5000);
  assert.deepEqual((await src.poll()).connects, [], 'still open: not new');
  assert.deepEqual(src.connectionStats?.(), { reported: 2, suppressed: 0, loopback: 1 });
  assert.ok(src.info().limitations.some((l) => /a connection opened and closed between two polls is not reported/.test(l)), src.info().limitations.join('\n'));
});

test('a process that started after the poll read the process table and connected before it read the connections is named at the next poll', async (t) => {
  const { h, src, later } = watched(t);
  await src.poll();
  // Both appear between this poll's process read and its connection read (the table bytes stay the same after).
  h.connections.tcp4 = [
    { address: '10.9.0.2', port: 50200, pid: 7300, state: ESTABLISHED, remoteAddress: '203.0.113.50', remotePort: 443 },
    { address: '10.9.0.2', port: 50201, pid: 7400, state: ESTABLISHED, remoteAddress: '203.0.113.51', remotePort: 443 },
  ];
  later(5000);
  assert.deepEqual((await src.poll()).connects, [], 'not reported without its process');
  h.processes.push({ pid: 7300, ppid: 5120, createTime: ft(3_600_000), imageName: 'curl.exe' });
  later(5000);
  const next = await src.poll();
  assert.deepEqual(next.connects?.map((c) => [c.pid, c.name, c.destinationAddress]), [[7300, 'curl.exe', '203.0.113.50'], [7400, '', '203.0.113.51']],
    'named once the process table holds it; one that never shows up is reported at the second look without a name');
  assert.ok(next.processes.has(7300));
  later(5000);
  assert.deepEqual((await src.poll()).connects, [], 'reported once');
  assert.equal(src.connectionStats?.()?.reported, 2);
});

test('the dedupe window: new connections of one process to one peer and port within it are folded and counted into the next event', async (t) => {
  const { h, src, later } = watched(t, 60_000);
  await src.poll();
  const to = (port: number) => ({ address: '10.9.0.2', port, pid: 5120, state: ESTABLISHED, remoteAddress: '203.0.113.10', remotePort: 443 });
  h.connections.tcp4 = [to(50001)];
  assert.equal((await src.poll()).connects?.length, 1);
  later(10_000);
  h.connections.tcp4 = [to(50002)];
  assert.deepEqual((await src.poll()).connects, [], 'folded: same process, peer and port within 60 s');
  h.connections.tcp4 = [to(50003), { ...to(50004), remotePort: 80 }];
  assert.deepEqual((await src.poll()).connects?.map((c) => c.destinationPort), [80], 'another port is another key');
  later(60_000);
  h.connections.tcp4 = [to(50005)];
  assert.deepEqual((await src.poll()).connects?.map((c) => [c.sourcePort, c.suppressed]), [[50005, 2]]);
  assert.deepEqual(src.connectionStats?.(), { reported: 3, suppressed: 2, loopback: 0 });
});

test('without events.connections the table is not read and snapshots carry no connections', async (t) => {
  const h = recordedHost();
  let reads = 0;
  const load = h.runner.loadNative.bind(h.runner);
  h.runner.loadNative = async () => {
    const l = await load();
    if (l.kind === 'ok') l.native.connections = () => { reads++; return Buffer.alloc(4); };
    return l;
  };
  const src = createWindowsSource({ logger: memoryLogger(), runner: h.runner, env: {} });
  t.after(() => src.shutdown());
  await src.poll();
  const snap = await src.poll();
  assert.equal(snap.connects, undefined);
  assert.equal(reads, 0);
  assert.equal(src.connectionStats?.(), undefined);
});

test('a cap on tracked connections: the excess is not looked at, and each poll that hits it says so', () => {
  const tracker = new OutboundTracker({ loopback: false, windowMs: 0, maxTracked: 2 }, -1);
  const rows = (n: number): ConnectionRow[] => Array.from({ length: n }, (_, i) => ({
    pid: 77, family: 'ipv4', localAddress: '10.0.0.5', localPort: 40000 + i, remoteAddress: '203.0.113.1', remotePort: 443,
  }));
  const info = () => ({ name: 'app.exe', startKey: '1' });
  const warnings: string[] = [];
  tracker.update([], new Set(), info, 0, warnings);
  assert.equal(tracker.update(rows(5), new Set(), info, 1, warnings).length, 2);
  assert.deepEqual(warnings, ['outbound connections: 3 open connections over the cap of 2 tracked were not looked at; new ones among them are not reported']);
  assert.equal(tracker.stats().overCap, 1);
  // 40001 closed: 40002, open since the last poll but over the cap then, comes under it. Not new.
  assert.equal(tracker.update(rows(3).filter((r) => r.localPort !== 40001), new Set(), info, 2, []).length, 0, 'untracked then, not reported as new now');
  assert.equal(tracker.update(rows(4).filter((r) => r.localPort > 40001), new Set(), info, 3, []).length, 1, 'under the cap again: new ones are reported');
});

test('connections of the agent\'s own children (its PowerShell session, netstat) are not reported; a process whose ppid only names the agent\'s pid by reuse is', () => {
  const agentPid = 500;
  const tracker = new OutboundTracker({ loopback: false, windowMs: 0 }, agentPid);
  const procs = new Map([
    [agentPid, { name: 'node.exe', startKey: '1000', ppid: 4 }],
    [600, { name: 'powershell.exe', startKey: '2000', ppid: agentPid }],
    // Older than the agent: its parent was another process that had pid 500 before.
    [601, { name: 'powershell.exe', startKey: '900', ppid: agentPid }],
    [602, { name: 'powershell.exe', startKey: '3000', ppid: 7 }],
  ]);
  const row = (pid: number): ConnectionRow => ({ pid, family: 'ipv4', localAddress: '10.0.0.5', localPort: 40000 + pid, remoteAddress: '203.0.113.9', remotePort: 80 });
  tracker.update([], new Set(), (pid) => procs.get(pid), 0, []);
  const got = tracker.update([row(agentPid), row(600), row(601), row(602)], new Set(), (pid) => procs.get(pid), 1, []);
  assert.deepEqual(got.map((c) => c.pid), [601, 602]);
});

test('netstat -ano (French layout in CP850, and the recorded en-US Windows 10 output): connections that carry a peer and a pid, listeners and TIME_WAIT left out', () => {
  const parsed = parseNetstat(decodeNetstatOutput(readFileSync(fixture('windows', 'netstat-ano-fr-FR-cp850.txt'))));
  const rows = connectionsFromNetstat(parsed.rows);
  assert.ok(rows.length > 0);
  for (const r of rows) assert.notEqual(r.remotePort, 0);
  assert.ok(rows.some((r) => r.pid === 7640 && r.remoteAddress === '52.97.146.2' && r.remotePort === 443 && r.localPort === 50712));
  const en = connectionsFromNetstat(parseNetstat(readFileSync(fixture('windows', 'windows-netstat-aon-en-US.txt'), 'utf8')).rows);
  assert.ok(en.length > 0 && en.every((r) => r.remoteAddress === '127.0.0.1'), 'the en-US recording holds loopback connections only');
  const tracker = new OutboundTracker({ loopback: false, windowMs: 60_000 }, -1);
  tracker.update([], new Set(), () => undefined, 0, []);
  assert.deepEqual(tracker.update(en, new Set(), () => undefined, 1000, []), [], 'loopback peers are skipped');
  assert.equal(tracker.stats().loopback, new Set(en.map((r) => `${r.pid}|${r.localPort}|${r.remotePort}`)).size);
});

test('the netstat tier: a connection that appears between two polls is reported with its process', async (t) => {
  const h = recordedHost({ native: false });
  // The connection's owner made node.exe (5120), which the recorded process list holds (7640 is not in it).
  const full = Buffer.from(readFileSync(fixture('windows', 'netstat-ano-fr-FR-cp850.txt')).toString('latin1').replace('ESTABLISHED     7640', 'ESTABLISHED     5120'), 'latin1');
  const without = Buffer.from(full.toString('latin1').split('\n').filter((l) => !l.includes(':50712 ')).join('\n'), 'latin1');
  let bytes = without;
  h.runner.netstat = () => Promise.resolve(bytes);
  const src = createWindowsSource({ logger: memoryLogger(), runner: h.runner, env: {}, connections: { loopback: false, windowMs: 60_000 } });
  t.after(() => src.shutdown());
  assert.deepEqual((await src.poll()).connects, []);
  bytes = full;
  const snap = await src.poll();
  assert.deepEqual(snap.connects?.map((c) => `${c.pid} ${c.name} ${c.sourceAddress}:${c.sourcePort} > ${c.destinationAddress}:${c.destinationPort}`),
    ['5120 node.exe 192.168.1.20:50712 > 52.97.146.2:443']);
  assert.ok(src.info().limitations.some((l) => /polled every interval from netstat -ano/.test(l)));
});

test('the Get-NetTCPConnection tier reports no connections and says so', async (t) => {
  const h = recordedHost({ native: false });
  const ps = h.runner.powershell.bind(h.runner);
  h.runner.powershell = (script, timeout) => {
    if (script === CIM_TCP_SCRIPT) return Promise.resolve(readFileSync(fixture('windows', 'ps-get-nettcpconnection-single.json'), 'utf8'));
    if (script === CIM_UDP_SCRIPT) return Promise.resolve(readFileSync(fixture('windows', 'ps7-get-netudpendpoint.json'), 'utf8'));
    return ps(script, timeout);
  };
  const src = createWindowsSource({ logger: memoryLogger(), runner: h.runner, env: {}, disable: ['netstat'], connections: { loopback: false, windowMs: 60_000 } });
  t.after(() => src.shutdown());
  assert.deepEqual((await src.poll()).connects, []);
  const limits = src.info().limitations;
  assert.ok(limits.includes('outbound connections are not reported while listeners come from Get-NetTCPConnection (the last tier)'), limits.join('\n'));
  assert.ok(!limits.some((l) => l.includes('polled every interval')), 'no claim that they are polled');
});
