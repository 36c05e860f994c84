import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HEADER_SIZE, parseRecords, RecordFlag, RecordType, splitArgs } from '../../../../../../agent/sources/linux/realtime/records.js';

/** Builds one record as native/realtime/records.h lays it out. */
function record(type: number, fields: {
  tgid?: number; ppid?: number; uid?: number; netns?: number; startNs?: bigint; tsNs?: bigint; comm?: string; flags?: number;
}, payload: Buffer = Buffer.alloc(0)): Buffer {
  const size = Math.ceil((HEADER_SIZE + payload.length) / 8) * 8;
  const b = Buffer.alloc(size);
  b.writeUInt16LE(0x5057, 0);
  b.writeUInt16LE(type, 2);
  b.writeUInt16LE(size, 4);
  b.writeUInt16LE(fields.flags ?? 0, 6);
  b.writeUInt32LE(fields.tgid ?? 0, 8);
  b.writeUInt32LE(fields.tgid ?? 0, 12);
  b.writeUInt32LE(fields.ppid ?? 0, 16);
  b.writeUInt32LE(fields.uid ?? 0xffffffff, 20);
  b.writeUInt32LE(fields.uid ?? 0xffffffff, 24);
  b.writeUInt32LE(0, 28);
  b.writeUInt32LE(fields.netns ?? 0, 32);
  b.writeBigUInt64LE(fields.startNs ?? 0n, 40);
  b.writeBigUInt64LE(fields.tsNs ?? 0n, 56);
  b.write(fields.comm ?? '', 72, 16, 'utf8');
  payload.copy(b, HEADER_SIZE);
  return b;
}

function execPayload(filename: string, args: string[]): Buffer {
  const f = Buffer.from(filename);
  const a = Buffer.from(args.map((x) => `${x}\0`).join(''));
  const head = Buffer.alloc(16);
  head.writeUInt16LE(f.length, 0);
  head.writeUInt16LE(a.length, 2);
  return Buffer.concat([head, f, a]);
}

function sockPayload(protocol: number, family: number, port: number, addr: number[], inode: bigint): Buffer {
  const b = Buffer.alloc(40);
  b[0] = protocol;
  b[1] = family;
  b.writeUInt16LE(port, 2);
  b.writeBigUInt64LE(inode, 8);
  Buffer.from(addr).copy(b, 24);
  return b;
}

test('an exec record gives the process, its parent, start, filename and argv', () => {
  const buf = Buffer.concat([
    record(RecordType.exec, { tgid: 4242, ppid: 812, uid: 33, netns: 4026531840, startNs: 123_450_000_000n, comm: 'sh', flags: RecordFlag.argsTruncated },
      execPayload('/usr/bin/sh', ['sh', '-c', 'id', 'caf\xe9'])),
  ]);
  const { records, malformed } = parseRecords(buf);
  assert.equal(malformed, 0);
  const [r] = records;
  assert.ok(r?.type === 'exec');
  assert.equal(r.proc.tgid, 4242);
  assert.equal(r.proc.ppid, 812);
  assert.equal(r.proc.uid, 33);
  assert.equal(r.proc.netns, '4026531840');
  assert.equal(r.proc.comm, 'sh');
  assert.equal(r.proc.startNs, 123_450_000_000n);
  assert.equal(r.proc.flags & RecordFlag.argsTruncated, RecordFlag.argsTruncated);
  assert.equal(r.filename, '/usr/bin/sh');
  assert.deepEqual(r.args.slice(0, 3), ['sh', '-c', 'id']);
  assert.equal(r.args.length, 4);
});

test('socket records carry protocol, family, port, address text as ss prints it, and inode', () => {
  const v4 = record(RecordType.listen, { tgid: 7 }, sockPayload(6, 2, 8080, [127, 0, 0, 1], 991n));
  const v6 = record(RecordType.bind, { tgid: 8 }, sockPayload(17, 10, 5353, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 992n));
  const mapped = record(RecordType.unlisten, { tgid: 9 }, sockPayload(6, 10, 443, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5], 0n));
  const { records } = parseRecords(Buffer.concat([v4, v6, mapped]));
  assert.deepEqual(records.map((r) => (r.type === 'listen' || r.type === 'bind' || r.type === 'unlisten' ? [r.type, r.socket.transport, r.socket.family, r.socket.address, r.socket.port, r.socket.inode] : [])), [
    ['listen', 'tcp', 'ipv4', '127.0.0.1', 8080, 991],
    ['bind', 'udp', 'ipv6', '::', 5353, 992],
    ['unlisten', 'tcp', 'ipv6', '::ffff:10.0.0.5', 443, 0],
  ]);
});

test('a truncated or corrupt delivery keeps the whole records before it and counts the rest', () => {
  const good = record(RecordType.exit, { tgid: 5 }, Buffer.alloc(8));
  const lost = Buffer.alloc(8);
  lost.writeBigUInt64LE(17n, 0);
  const lostRec = record(RecordType.lost, {}, lost);
  const bad = Buffer.from(good);
  bad.writeUInt16LE(0x1234, 0);
  const { records, malformed } = parseRecords(Buffer.concat([good, lostRec, bad, good]));
  assert.deepEqual(records.map((r) => r.type), ['exit', 'lost']);
  assert.equal(records[1]?.type === 'lost' ? records[1].count : -1, 17);
  assert.equal(malformed, good.length * 2);
});

test('property: any bytes parse without throwing, and never more records than headers fit', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
    const { records, malformed } = parseRecords(bytes);
    assert.ok(records.length <= Math.floor(bytes.length / HEADER_SIZE));
    assert.ok(malformed >= 0 && malformed <= bytes.length);
  }));
});

test('argv with invalid UTF-8 and a last argument cut before its NUL', () => {
  assert.deepEqual(splitArgs(Buffer.from([0x61, 0xff, 0x00, 0x62, 0x63])), ['a\uFFFD', 'bc']);
});
