import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import fc from 'fast-check';
import { ListenerReader } from '../../../../../agent/sources/linux/listener-reader.js';
import { parseSsLine } from '../../../../../agent/sources/linux/proc-parsers.js';
import { classifyError, decodeRows, ROW_SIZE, SockDiag } from '../../../../../agent/sources/linux/sock-diag.js';
import type { RawDump } from '../../../../../agent/sources/linux/sock-diag.js';

interface Row { v6: boolean; udp: boolean; port: number; inode: number; uid: number; ifindex: number; addr: number[] }

/** Packs rows the way native/sock_diag/dump.c does. */
function pack(rows: Row[]): Uint8Array {
  const buf = new Uint8Array(rows.length * ROW_SIZE);
  const view = new DataView(buf.buffer);
  rows.forEach((r, i) => {
    const o = i * ROW_SIZE;
    buf[o] = r.v6 ? 6 : 4;
    buf[o + 1] = r.udp ? 17 : 6;
    view.setUint16(o + 2, r.port, false);
    view.setUint32(o + 4, r.inode, true);
    view.setUint32(o + 8, r.uid, true);
    view.setUint32(o + 12, r.ifindex, true);
    buf.set(r.addr, o + 16);
  });
  return buf;
}

const v6 = (...groups: number[]): number[] => groups.flatMap((g) => [g >> 8, g & 0xff]);
const row = (r: Partial<Row> & Pick<Row, 'addr'>): Row => ({ v6: r.addr.length === 16, udp: false, port: 1, inode: 1, uid: 0, ifindex: 0, ...r });

test('decoded rows equal what the ss parser makes of the same sockets', () => {
  const raw: RawDump = {
    rows: pack([
      row({ addr: [0, 0, 0, 0], port: 22, inode: 587 }),
      row({ addr: v6(0, 0, 0, 0, 0, 0, 0, 0), port: 8080, inode: 4_000_000_000, uid: 1000 }),
      row({ addr: v6(0, 0, 0, 0, 0, 0xffff, 0x7f00, 1), udp: true, port: 59010, inode: 46195 }),
      row({ addr: v6(0xfe80, 0, 0, 0, 0, 0, 0, 1), port: 35877, inode: 46193, ifindex: 3 }),
      row({ addr: [127, 0, 0, 53], udp: true, port: 53, inode: 1234, uid: 101, ifindex: 1 }),
      row({ addr: v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), port: 65535, inode: 7 }),
    ]),
    ifnames: { 1: 'lo', 3: 'pwv0' },
  };
  const ss = [
    'tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* ino:587 sk:1 cgroup:/ <->',
    'tcp LISTEN 0 128 *:8080 *:* uid:1000 ino:4000000000 sk:2 cgroup:/ v6only:0 <->',
    'udp UNCONN 0 0 [::ffff:127.0.0.1]:59010 *:* ino:46195 sk:17 cgroup:/ v6only:0 <->',
    'tcp LISTEN 0 128 [fe80::1]%pwv0:35877 [::]:* ino:46193 sk:1a cgroup:/ v6only:1 <->',
    'udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:* uid:101 ino:1234 sk:3 cgroup:/ <->',
    'tcp LISTEN 0 128 [2001:db8::1:0:0:1]:65535 [::]:* ino:7 sk:4 cgroup:/ v6only:1 <->',
  ].map(parseSsLine);
  assert.deepEqual(decodeRows(raw), ss);
});

test('an interface index with no name left shows as ss shows it', () => {
  const [r] = decodeRows({ rows: pack([row({ addr: v6(0, 0, 0, 0, 0, 0, 0, 1), ifindex: 9 })]), ifnames: {} });
  assert.equal(r?.zone, 'if9');
  assert.equal(decodeRows({ rows: new Uint8Array(0), ifnames: {} }).length, 0);
});

test('IPv6 text matches inet_ntop (the form ss prints) for any address', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
    const [r] = decodeRows({ rows: pack([row({ addr: v6(...groups) })]), ifnames: {} });
    const expected = new SocketAddress({ family: 'ipv6', address: groups.map((g) => g.toString(16)).join(':') }).address;
    assert.equal(r?.address, expected);
  }), { numRuns: 2000 });
});

test('addon errors are sorted into not permitted, gone and failed', () => {
  const err = (code: string, syscall: string) => Object.assign(new Error(`${syscall}: x`), { code, syscall });
  assert.equal(classifyError(err('EPERM', 'setns(netns)')).kind, 'not-permitted');
  assert.equal(classifyError(err('EACCES', 'open(netns)')).kind, 'not-permitted');
  assert.equal(classifyError(err('ENOENT', 'open(netns)')).kind, 'gone');
  // ENOENT from the dump itself means the kernel lacks tcp_diag/udp_diag: a real failure.
  assert.deepEqual(classifyError(err('ENOENT', 'dump udp')), { kind: 'failed', code: 'ENOENT', message: 'dump udp: x' });
  assert.equal(classifyError('weird').kind, 'failed');
  const bad = new SockDiag({ dump: () => ({ rows: new Uint8Array(5), ifnames: {} }) });
  assert.equal(bad.dump().kind, 'failed');
});

test('the reader falls back per namespace when setns is not permitted, and says so', async () => {
  const calls: (string | undefined)[] = [];
  const fake = new SockDiag({
    dump: (path?: string) => {
      calls.push(path);
      if (path !== undefined) throw Object.assign(new Error('setns(netns): Operation not permitted'), { code: 'EPERM', syscall: 'setns(netns)' });
      return { rows: pack([row({ addr: [127, 0, 0, 1], port: 631, inode: 99 })]), ifnames: {} };
    },
  });
  const reader = new ListenerReader('/proc', 'ss', '/nonexistent/nsenter', fake);
  const own = await reader.read('self', true);
  assert.deepEqual(own.rows.map((r) => `${r.address}:${r.port}`), ['127.0.0.1:631']);
  assert.equal(reader.describe(), 'NETLINK_SOCK_DIAG (native)');
  const other = await reader.read(process.pid, false);
  assert.equal(other.via, 'procfs');
  assert.deepEqual(calls, [undefined, `/proc/${process.pid}/ns/net`]);
  assert.equal(reader.describe(), 'NETLINK_SOCK_DIAG (native); other namespaces via /proc/<pid>/net (setns and nsenter not permitted)');
  await reader.read(process.pid, false);
  assert.equal(calls.length, 2, 'a namespace path that was refused once is not retried');
});

test('without the addon the reader names ss as its path', () => {
  const reader = new ListenerReader('/proc', 'ss', 'nsenter', null);
  assert.equal(reader.describe(), 'NETLINK_SOCK_DIAG via ss -ltnuHe (native addon not built)');
});

test('a native dump that fails after working falls back for one tick with a warning; one that never worked is dropped', async () => {
  const ok = { rows: pack([row({ addr: [127, 0, 0, 1], port: 631, inode: 99 })]), ifnames: {} };
  const fail = () => { throw Object.assign(new Error('dump tcp: Protocol error'), { code: 'EPROTO', syscall: 'dump tcp' }); };
  let failing = false;
  const flaky = new ListenerReader('/proc', 'ss', 'nsenter', new SockDiag({ dump: () => (failing ? fail() : ok) }));
  assert.equal((await flaky.read('self', true)).rows.length, 1);
  failing = true;
  const fallback = await flaky.read('self', true);
  assert.match(fallback.warnings.join('\n'), /NETLINK_SOCK_DIAG dump failed \(dump tcp: Protocol error\)/);
  assert.ok(!fallback.rows.some((r) => r.inode === 99), 'the tick came from ss or /proc, not the failed dump');
  failing = false;
  assert.deepEqual((await flaky.read('self', true)).warnings, []);
  assert.equal(flaky.describe(), 'NETLINK_SOCK_DIAG (native)');

  const broken = new ListenerReader('/proc', 'ss', 'nsenter', new SockDiag({ dump: fail }));
  const first = await broken.read('self', true);
  assert.deepEqual(first.warnings.filter((w) => w.includes('NETLINK')), []);
  assert.equal(broken.describe(), 'NETLINK_SOCK_DIAG via ss -ltnuHe (native dump failed)');
});

test('fuzz finding: process basics cut inside an entry (its ns link runs past the end) are unusable, not a RangeError', () => {
  // pid 1, uid 0, an ns link said to be 16 bytes long, and nothing after it: 11 bytes.
  const cut = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 16, 0x6e, 0x65]);
  const sd = new SockDiag({ dump: () => undefined, basics: () => cut });
  assert.equal(sd.basics('/proc', new Uint32Array([1])), undefined);
});

test('fuzz finding: a dump whose interface names are null is an unexpected value, not a TypeError', () => {
  const rows = Buffer.alloc(ROW_SIZE);
  rows.writeUInt32LE(2, 12); // bound to interface 2, whose name is looked up
  const sd = new SockDiag({ dump: () => ({ rows, ifnames: null }) });
  assert.equal(sd.dump().kind, 'failed');
});
