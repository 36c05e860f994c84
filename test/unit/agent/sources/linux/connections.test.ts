import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONN_ROW_SIZE, decodeConnRow, readConnections, rowInodes } from '../../../../../agent/sources/linux/connections.js';
import { SockDiag } from '../../../../../agent/sources/linux/sock-diag.js';

/** One packed row as native/sock_diag/dump.c writes it. */
function row(o: { v6?: boolean; counters?: boolean; lport: number; rport: number; inode: number; local: number[]; remote: number[]; rq?: number; wq?: number; acked?: bigint; received?: bigint }): Buffer {
  const b = Buffer.alloc(CONN_ROW_SIZE);
  b[0] = o.v6 === true ? 6 : 4;
  b[1] = o.counters === false ? 0 : 1;
  b.writeUInt16BE(o.lport, 2);
  b.writeUInt16BE(o.rport, 4);
  b.writeUInt32LE(o.inode, 8);
  Buffer.from(o.local).copy(b, 16);
  Buffer.from(o.remote).copy(b, 32);
  b.writeUInt32LE(o.rq ?? 0, 48);
  b.writeUInt32LE(o.wq ?? 0, 52);
  b.writeBigUInt64LE(o.acked ?? 0n, 56);
  b.writeBigUInt64LE(o.received ?? 0n, 64);
  return b;
}

const v6 = (...groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);

test('decodeConnRow: addresses as ss prints them; written = acknowledged + send queue, read = received - receive queue', () => {
  const rows = Buffer.concat([
    row({ lport: 8443, rport: 51000, inode: 7001, local: [10, 1, 2, 3], remote: [203, 0, 113, 5], rq: 100, wq: 2048, acked: 5_000_000_000n, received: 1317n }),
    row({ v6: true, lport: 40100, rport: 22, inode: 7002, local: v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), remote: v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20), counters: false }),
  ]);
  assert.deepEqual([...rowInodes(rows)], [[7001, 0], [7002, CONN_ROW_SIZE]]);
  assert.deepEqual(decodeConnRow(rows, 0), {
    family: 'ipv4', localAddress: '10.1.2.3', localPort: 8443, remoteAddress: '203.0.113.5', remotePort: 51000, inode: 7001,
    bytesWritten: 5_000_002_048, bytesRead: 1217,
  });
  assert.deepEqual(decodeConnRow(rows, CONN_ROW_SIZE), {
    family: 'ipv6', localAddress: '2001:db8::1', localPort: 40100, remoteAddress: '2001:db8::20', remotePort: 22, inode: 7002,
  }, 'no counters from a kernel before 4.1: none reported, not zeros');
});

/** A sock_diag whose connection table is `rows` in every namespace but the one entered through `pid`, which throws `err`; each namespace asked is noted. */
function diagFailingIn(pid: number, err: Error, rows: Buffer, asked: string[]): SockDiag {
  return new SockDiag({
    dump: () => ({ rows: new Uint8Array(), ifnames: {} }),
    connections: (path?: string) => {
      asked.push(path ?? 'own');
      if (path?.includes(`/${pid}/`) === true) throw err;
      return rows;
    },
  });
}

/** An fd walk that finds socket `inode` in process `pid` (when that process is walked and the inode wanted). */
const walkerFinding = (pid: number, inode: number) => (pids: readonly number[], wanted: ReadonlyMap<number, unknown>) =>
  ({ pairs: pids.includes(pid) && wanted.has(inode) ? [[pid, inode] as [number, number]] : [], denied: [], read: pids.length });

test('readConnections: only the inodes the walk finds in the given processes are reported; an unreadable namespace is a problem, not an error', () => {
  const rows = Buffer.concat([
    row({ lport: 8443, rport: 51000, inode: 11, local: [10, 0, 0, 1], remote: [10, 0, 0, 9] }),
    row({ lport: 40100, rport: 22, inode: 12, local: [10, 0, 0, 1], remote: [10, 0, 0, 8] }),
  ]);
  const asked: string[] = [];
  const diag = diagFailingIn(66, Object.assign(new Error('setns: Operation not permitted'), { code: 'EPERM', syscall: 'setns(netns)' }), rows, asked);
  const walker = walkerFinding(5, 12);
  const problems: string[] = [];
  const out = readConnections(diag, walker, '/proc', [{ netns: 'a', own: true, pids: [5] }, { netns: 'b', own: false, pids: [66] }], problems);
  assert.deepEqual(out.map((c) => [c.pid, c.netns, c.inode, c.remoteAddress]), [[5, 'a', 12, '10.0.0.8']]);
  assert.deepEqual(asked, ['own', '/proc/66/ns/net']);
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /namespace b: setns/);
});

test('readConnections: a namespace whose first listed process has exited is entered through the next one', () => {
  const rows = row({ lport: 8443, rport: 51000, inode: 21, local: [10, 0, 0, 1], remote: [10, 0, 0, 9] });
  const asked: string[] = [];
  const diag = diagFailingIn(70, Object.assign(new Error('open: No such file or directory'), { code: 'ENOENT', syscall: 'open(netns)' }), rows, asked);
  const walker = walkerFinding(71, 21);
  const problems: string[] = [];
  const out = readConnections(diag, walker, '/proc', [{ netns: 'c', own: false, pids: [70, 71] }], problems);
  assert.deepEqual(out.map((c) => [c.pid, c.inode]), [[71, 21]]);
  assert.deepEqual(asked, ['/proc/70/ns/net', '/proc/71/ns/net']);
  assert.deepEqual(problems, []);
});
