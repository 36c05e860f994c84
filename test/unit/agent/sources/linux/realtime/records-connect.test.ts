import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADER_SIZE, parseRecords, RecordType } from '../../../../../../agent/sources/linux/realtime/records.js';

/** A PW_CONNECT record as native/realtime/records.h lays it out (header, then struct pw_conn). */
function connect(o: { tgid: number; netns?: number; family: number; sport: number; dport: number; saddr: number[]; daddr: number[]; suppressed?: number; comm?: string }): Buffer {
  const b = Buffer.alloc(HEADER_SIZE + 48);
  b.writeUInt16LE(0x5057, 0);
  b.writeUInt16LE(RecordType.connect, 2);
  b.writeUInt16LE(b.length, 4);
  b.writeUInt32LE(o.tgid, 8);
  b.writeUInt32LE(o.tgid, 12);
  b.writeUInt32LE(1, 16);
  b.writeUInt32LE(1000, 20);
  b.writeUInt32LE(1000, 24);
  b.writeUInt32LE(o.netns ?? 0, 32);
  b.writeBigUInt64LE(5_000_000_000n, 40);
  b.write(o.comm ?? 'curl', 72, 16, 'utf8');
  const p = HEADER_SIZE;
  b[p] = 6;
  b[p + 1] = o.family;
  b.writeUInt16LE(o.sport, p + 2);
  b.writeUInt16LE(o.dport, p + 4);
  b.writeUInt32LE(o.suppressed ?? 0, p + 8);
  Buffer.from(o.saddr).copy(b, p + 16);
  Buffer.from(o.daddr).copy(b, p + 32);
  return b;
}

const v6 = (...tail: number[]) => [...Array<number>(16 - tail.length).fill(0), ...tail];
const mapped = (a: number, b: number, c: number, d: number) => [...Array<number>(10).fill(0), 0xff, 0xff, a, b, c, d];

test('a connect record gives the process, the peer and the folded count (IPv4)', () => {
  const { records, malformed } = parseRecords(connect({ tgid: 4242, netns: 4026531840, family: 2, sport: 0, dport: 443, saddr: [10, 0, 0, 5], daddr: [93, 184, 216, 34], suppressed: 7 }));
  assert.equal(malformed, 0);
  const [r] = records;
  assert.ok(r?.type === 'connect');
  assert.equal(r.proc.tgid, 4242);
  assert.equal(r.proc.comm, 'curl');
  assert.equal(r.proc.netns, '4026531840');
  assert.deepEqual(r.conn, {
    transport: 'tcp', family: 'ipv4', sourceAddress: '10.0.0.5', sourcePort: 0, destinationAddress: '93.184.216.34', destinationPort: 443, suppressed: 7,
  });
});

test('IPv6 peers are printed as inet_ntop does; a v4-mapped peer is reported as IPv4', () => {
  const [a, b] = parseRecords(Buffer.concat([
    connect({ tgid: 1, family: 10, sport: 40000, dport: 22, saddr: [0xfe, 0x80, ...Array<number>(13).fill(0), 1], daddr: [0x20, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), 9] }),
    connect({ tgid: 2, family: 10, sport: 0, dport: 8080, saddr: v6(), daddr: mapped(192, 0, 2, 7) }),
  ])).records;
  assert.ok(a?.type === 'connect' && b?.type === 'connect');
  assert.equal(a.conn.family, 'ipv6');
  assert.equal(a.conn.destinationAddress, '2001:db8::9');
  assert.equal(a.conn.sourceAddress, 'fe80::1');
  assert.equal(a.conn.sourcePort, 40000);
  assert.equal(b.conn.family, 'ipv4');
  assert.equal(b.conn.destinationAddress, '192.0.2.7');
  // The local address of a v4-mapped socket is set after connect() returns: unknown, not "::".
  assert.equal(b.conn.sourceAddress, '');
});

test('a connect record cut short ends the parse and is counted as malformed', () => {
  const whole = connect({ tgid: 3, family: 2, sport: 0, dport: 80, saddr: [127, 0, 0, 1], daddr: [127, 0, 0, 1] });
  const cut = Buffer.from(whole.subarray(0, HEADER_SIZE + 40));
  cut.writeUInt16LE(cut.length, 4);
  const { records, malformed } = parseRecords(Buffer.concat([whole, cut]));
  assert.equal(records.length, 1);
  assert.equal(malformed, cut.length);
});
