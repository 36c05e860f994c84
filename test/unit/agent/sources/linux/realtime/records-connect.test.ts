import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordConverter } from '../../../../../../agent/sources/linux/realtime/convert.js';
import { HEADER_SIZE, parseRecords, RecordType } from '../../../../../../agent/sources/linux/realtime/records.js';
import { UserNames } from '../../../../../../agent/sources/linux/process-reader.js';
import type { RealtimeEvent } from '../../../../../../agent/sources/types.js';

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

test('an exec read from /proc as the process exits (a zombie: stat, no exe link) keeps the kernel\'s filename; its connect names it', () => {
  const procRoot = mkdtempSync(join(tmpdir(), 'pw-proc-'));
  mkdirSync(join(procRoot, '777'));
  // /proc/<pid>/stat of a zombie bash: state Z, start 500 ticks (field 22).
  writeFileSync(join(procRoot, '777', 'stat'), `777 (bash) Z 1 777 777 0 -1 4194316 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`);
  const converter = new RecordConverter({ ctx: { procRoot, bootTimeMs: 1_700_000_000_000, clockTicks: 100, users: new UserNames('/nonexistent-passwd') }, polled: new Map() });
  const exec = Buffer.alloc(HEADER_SIZE + 16 + 16);
  exec.writeUInt16LE(0x5057, 0);
  exec.writeUInt16LE(RecordType.exec, 2);
  exec.writeUInt16LE(exec.length, 4);
  exec.writeUInt32LE(777, 8);
  exec.writeUInt32LE(777, 12);
  exec.writeUInt32LE(1, 16);
  exec.writeUInt32LE(0xffffffff, 20);
  exec.writeUInt32LE(0xffffffff, 24);
  exec.writeBigUInt64LE(5_000_000_000n, 40);
  exec.write('bash', 72, 16, 'utf8');
  exec.writeUInt16LE(13, HEADER_SIZE);
  exec.write('/usr/bin/bash', HEADER_SIZE + 16, 'utf8');
  const conn = connect({ tgid: 777, family: 2, sport: 0, dport: 4444, saddr: [10, 0, 0, 5], daddr: [203, 0, 113, 9], comm: 'bash' });
  const out: RealtimeEvent[] = [];
  converter.convert(parseRecords(Buffer.concat([exec, conn])).records, out);
  const [e, c] = out;
  assert.ok(e?.kind === 'exec' && c?.kind === 'connect');
  assert.equal(e.record.name, 'bash');
  assert.equal(e.record.executable, '/usr/bin/bash');
  assert.equal(c.record.pid, 777);
  assert.equal(c.record.destinationAddress, '203.0.113.9');
  assert.equal(c.ownerRecord, undefined, 'the exec made its record: no second /proc read');
});

test('a connect whose main thread\'s comm is not the name the process is known by (an exec the ring buffer lost) reads /proc again; gone, only the kernel\'s pid and name are kept', () => {
  const procRoot = mkdtempSync(join(tmpdir(), 'pw-proc-'));
  mkdirSync(join(procRoot, '888'));
  // pid 888, start 500 ticks: known from a poll as the shell's fork, /proc now shows the curl it exec'd.
  writeFileSync(join(procRoot, '888', 'stat'), `888 (curl) S 100 888 100 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`);
  symlinkSync('/usr/bin/curl', join(procRoot, '888', 'exe'));
  writeFileSync(join(procRoot, '888', 'cmdline'), 'curl\0https://example.org/\0');
  const bash = { pid: 888, ppid: 100, startKey: '500', start: new Date(1_700_000_005_000).toISOString(), name: 'bash', executable: '/usr/bin/bash', commandLine: 'bash' };
  const polled = new Map([[888, bash], [999, { ...bash, pid: 999 }]]);
  const converter = new RecordConverter({ ctx: { procRoot, bootTimeMs: 1_700_000_000_000, clockTicks: 100, users: new UserNames('/nonexistent-passwd') }, polled });
  const peer = { family: 2, sport: 0, dport: 443, saddr: [10, 0, 0, 5], daddr: [203, 0, 113, 9] };
  const thread = connect({ tgid: 888, ...peer, comm: 'resolver' });
  thread.writeUInt32LE(889, 12); // a thread of its own name connects: thread names differ, nothing is read
  const out: RealtimeEvent[] = [];
  converter.convert(parseRecords(Buffer.concat([
    connect({ tgid: 888, ...peer, comm: 'curl' }), connect({ tgid: 999, ...peer, comm: 'curl' }), thread, connect({ tgid: 888, ...peer, comm: 'curl' }),
  ])).records, out);
  const [alive, gone, byThread, same] = out;
  assert.ok(alive?.kind === 'connect' && gone?.kind === 'connect' && byThread?.kind === 'connect' && same?.kind === 'connect');
  assert.equal(alive.ownerRecord?.executable, '/usr/bin/curl', 'read again: the image that connected');
  assert.equal(alive.ownerStale, undefined);
  assert.equal(gone.ownerRecord, undefined);
  assert.equal(gone.ownerStale, true, 'pid 999 is gone: the shell it was known as does not stand in');
  assert.equal(byThread.ownerRecord, undefined);
  assert.equal(byThread.ownerStale, undefined);
  assert.equal(same.ownerRecord, undefined, 'now known as curl: the next connect reads nothing');
});
