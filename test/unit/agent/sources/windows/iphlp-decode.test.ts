import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTable, filetimeToIso, unixMsToFiletime } from '../../../../../agent/sources/windows/iphlp-decode.js';
import { buildTable } from '../../../../../testkit/windows-buffers.js';

const bound = unixMsToFiletime(Date.parse('2026-11-20T08:15:30.250Z'));

test('MIB_TCPROW_OWNER_MODULE: IPv4 address, network-order port, pid and bind time', () => {
  const buf = buildTable('tcp4', [
    { address: '0.0.0.0', port: 3389, pid: 1184, createTimestamp: bound },
    { address: '192.168.1.20', port: 443, pid: 7, state: 5, remotePort: 50123 },
  ]);
  assert.equal(buf.length, 8 + 2 * 160);
  const { rows, warnings } = decodeTable('tcp4', buf);
  assert.deepEqual(warnings, []);
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.address, '0.0.0.0');
  assert.equal(rows[0]!.port, 3389);
  assert.equal(rows[0]!.pid, 1184);
  assert.equal(rows[0]!.state, 2);
  assert.equal(filetimeToIso(rows[0]!.createTimestamp), '2026-11-20T08:15:30.250Z');
  assert.equal(rows[1]!.address, '192.168.1.20');
  assert.equal(rows[1]!.state, 5);
  assert.equal(rows[1]!.remotePort, 50123);
  assert.equal(rows[0]!.row.length, 160, 'the row bytes are kept for GetOwnerModuleFromTcpEntry');
});

test('port bytes are big-endian: 0x0D3D is 3389, never 15629', () => {
  const buf = buildTable('tcp4', [{ address: '10.0.0.1', port: 0x0d3d, pid: 1 }]);
  assert.equal(buf[8 + 8], 0x0d);
  assert.equal(decodeTable('tcp4', buf).rows[0]!.port, 3389);
});

test('MIB_TCP6ROW_OWNER_MODULE: compressed IPv6 text and the scope id as zone', () => {
  const buf = buildTable('tcp6', [
    { address: '::', port: 135, pid: 1020 },
    { address: 'fe80::1c2d:3e4f:5a6b:7c8d', scopeId: 12, port: 2869, pid: 4, createTimestamp: bound },
    { address: '2001:db8:0:0:1:0:0:1', port: 8443, pid: 9 },
    { address: '::1', port: 5354, pid: 3412 },
  ]);
  assert.equal(buf.length, 8 + 4 * 192);
  const rows = decodeTable('tcp6', buf).rows;
  assert.deepEqual(rows.map((r) => `${r.address}|${r.port}|${r.pid}`), [
    '::|135|1020', 'fe80::1c2d:3e4f:5a6b:7c8d%12|2869|4', '2001:db8::1:0:0:1|8443|9', '::1|5354|3412',
  ]);
  assert.equal(rows[1]!.state, 2);
  assert.equal(filetimeToIso(rows[1]!.createTimestamp), '2026-11-20T08:15:30.250Z');
});

test('MIB_UDPROW_OWNER_MODULE and MIB_UDP6ROW_OWNER_MODULE', () => {
  const v4 = decodeTable('udp4', buildTable('udp4', [{ address: '0.0.0.0', port: 5353, pid: 2208, createTimestamp: bound }]));
  assert.equal(v4.rows[0]!.address, '0.0.0.0');
  assert.equal(v4.rows[0]!.port, 5353);
  assert.equal(v4.rows[0]!.pid, 2208);
  assert.equal(v4.rows[0]!.state, undefined);
  assert.equal(filetimeToIso(v4.rows[0]!.createTimestamp), '2026-11-20T08:15:30.250Z');
  const v6 = decodeTable('udp6', buildTable('udp6', [{ address: 'fe80::9a8b:7c6d:5e4f:3a2b', scopeId: 7, port: 546, pid: 1432 }]));
  assert.equal(v6.rows[0]!.address, 'fe80::9a8b:7c6d:5e4f:3a2b%7');
  assert.equal(v6.rows[0]!.port, 546);
  assert.equal(v6.rows[0]!.pid, 1432);
});

test('UDP dwFlags: SpecificPortBind tells a server bind from an ephemeral client port', () => {
  const v4 = decodeTable('udp4', buildTable('udp4', [
    { address: '0.0.0.0', port: 53, pid: 1, flags: 1 }, { address: '0.0.0.0', port: 61234, pid: 2, flags: 0 },
  ])).rows;
  assert.deepEqual(v4.map((r) => r.specificPortBind), [true, false]);
  const v6 = decodeTable('udp6', buildTable('udp6', [{ address: '::', port: 5353, pid: 3, flags: 1 }])).rows;
  assert.equal(v6[0]!.specificPortBind, true);
  assert.equal(decodeTable('tcp4', buildTable('tcp4', [{ address: '0.0.0.0', port: 1, pid: 1 }])).rows[0]!.specificPortBind, undefined);
});

test('OWNER_PID variants (rows at offset 4) decode with the same fields and no timestamp', () => {
  for (const kind of ['tcp4', 'tcp6', 'udp4', 'udp6'] as const) {
    const addr = kind.endsWith('6') ? '::1' : '127.0.0.1';
    const { rows } = decodeTable(kind, buildTable(kind, [{ address: addr, port: 9229, pid: 77 }], 'pid'), 'pid');
    assert.equal(rows[0]!.address, addr, kind);
    assert.equal(rows[0]!.port, 9229, kind);
    assert.equal(rows[0]!.pid, 77, kind);
    assert.equal(rows[0]!.createTimestamp, 0n, kind);
  }
});

test('zero bind timestamp gives no boundAt', () => {
  const { rows } = decodeTable('tcp4', buildTable('tcp4', [{ address: '0.0.0.0', port: 445, pid: 4, createTimestamp: 0n }]));
  assert.equal(filetimeToIso(rows[0]!.createTimestamp), undefined);
});

test('truncated tables: complete rows are returned and the shortfall is reported', () => {
  const full = buildTable('tcp4', [
    { address: '0.0.0.0', port: 1, pid: 1 }, { address: '0.0.0.0', port: 2, pid: 2 }, { address: '0.0.0.0', port: 3, pid: 3 },
  ]);
  const cut = decodeTable('tcp4', full.subarray(0, 8 + 2 * 160 + 100));
  assert.deepEqual(cut.rows.map((r) => r.port), [1, 2]);
  assert.match(cut.warnings[0] ?? '', /header says 3 rows, buffer holds 2/);
  assert.deepEqual(decodeTable('udp6', Buffer.alloc(0)), { rows: [], warnings: [] });
  assert.match(decodeTable('udp6', Buffer.from([1, 0])).warnings[0] ?? '', /too short/);
  const emptyTable = Buffer.alloc(8);
  assert.deepEqual(decodeTable('tcp6', emptyTable).rows, []);
});

test('property: any IPv4 row round-trips through the documented layout', () => {
  fc.assert(fc.property(
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), fc.integer({ min: 0, max: 65535 }), fc.nat(0xffffffff),
    fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
    (a, port, pid, ts) => {
      const address = a.join('.');
      const r = decodeTable('udp4', buildTable('udp4', [{ address, port, pid, createTimestamp: ts }])).rows[0]!;
      return r.address === address && r.port === port && r.pid === pid && r.createTimestamp === ts;
    }));
});
