import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { RecordConverter, startKeyOf } from '../../../../../../agent/sources/linux/realtime/convert.js';
import { RecordFlag } from '../../../../../../agent/sources/linux/realtime/records.js';
import type { RawProcess, RawRecord } from '../../../../../../agent/sources/linux/realtime/records.js';
import { UserNames } from '../../../../../../agent/sources/linux/process-reader.js';
import type { ProcessRecord, RealtimeEvent } from '../../../../../../agent/sources/types.js';

const BOOT_MS = 1_700_000_000_000;
// A /proc where nothing lives: every record is made from the kernel's data alone (processes gone).
const ctx = { procRoot: '/nonexistent-proc', bootTimeMs: BOOT_MS, clockTicks: 100, users: new UserNames('/nonexistent-passwd') };

const proc = (tgid: number, ppid: number, startTicks: number, comm: string, extra: Partial<RawProcess> = {}): RawProcess => ({
  tgid, tid: tgid, ppid, uid: 33, euid: 33, gid: 33, netns: '4026531840', startNs: BigInt(startTicks) * 10_000_000n,
  parentStartNs: 0n, tsNs: BigInt(startTicks) * 10_000_000n + 1_000_000n, cgroupId: 0n, comm, flags: 0, ...extra,
});

function convert(polled: ProcessRecord[], raw: RawRecord[]): RealtimeEvent[] {
  const c = new RecordConverter({ ctx, polled: new Map(polled.map((r) => [r.pid, r])) });
  const out: RealtimeEvent[] = [];
  c.convert(raw, out);
  return out;
}

const fpm: ProcessRecord = {
  pid: 500, ppid: 1, startKey: '1000', start: new Date(BOOT_MS + 10_000).toISOString(), name: 'php-fpm8.2',
  executable: '/usr/sbin/php-fpm8.2', args: ['php-fpm: pool www'], commandLine: "'php-fpm: pool www'", uid: 33,
};

test('start keys and times are the polling path\'s: start_boottime / 10 ms ticks, boot time plus ticks', () => {
  assert.equal(startKeyOf(123_456_789_012n), '12345');
  const [e] = convert([], [{ type: 'exec', proc: proc(7, 1, 4242, 'id'), filename: '/usr/bin/id', args: ['id'] }]);
  assert.ok(e?.kind === 'exec');
  assert.equal(e.record.startKey, '4242');
  assert.equal(e.record.start, new Date(BOOT_MS + 42_420).toISOString());
});

test('a fork carries its parent\'s image and the parent the kernel named; the exec then its own filename and argv', () => {
  const events = convert([fpm], [
    { type: 'fork', proc: proc(600, 500, 2000, 'php-fpm8.2', { parentStartNs: 1000n * 10_000_000n }) },
    { type: 'exec', proc: proc(600, 1, 2000, 'sh', { flags: RecordFlag.argsTruncated }), filename: '/usr/bin/dash', args: ['sh', '-c', 'id'] },
    { type: 'exit', proc: proc(600, 1, 2000, 'sh'), exitCode: 0 },
  ]);
  assert.deepEqual(events.map((e) => e.kind), ['fork', 'exec', 'exit']);
  const [fork, exec, exit] = events;
  assert.ok(fork?.kind === 'fork' && exec?.kind === 'exec' && exit?.kind === 'exit');
  assert.equal(fork.record.ppid, 500);
  assert.equal(fork.record.executable, '/usr/sbin/php-fpm8.2');
  assert.equal(fork.record.realtime, true);
  assert.equal(exec.record.executable, '/usr/bin/dash');
  assert.deepEqual(exec.record.args, ['sh', '-c', 'id']);
  assert.equal(exec.record.commandLine, 'sh -c id');
  assert.equal(exec.record.argsTruncated, true);
  assert.equal(exit.startKey, '2000');
});

test('a producer that read /proc too late (no start, no parent) keeps what the fork said', () => {
  const events = convert([fpm], [
    { type: 'fork', proc: proc(601, 500, 2100, 'php-fpm8.2') },
    { type: 'exec', proc: proc(601, 0, 0, '', { startNs: 0n, flags: RecordFlag.argsMissing }), filename: '', args: [] },
    { type: 'exit', proc: proc(601, 0, 0, '', { startNs: 0n }), exitCode: 0 },
  ]);
  const [fork, exec, exit] = events;
  assert.ok(fork?.kind === 'fork' && exec?.kind === 'exec' && exit?.kind === 'exit');
  // The fork's parent start was unknown (0): the parent is found by pid.
  assert.equal(fork.record.executable, '/usr/sbin/php-fpm8.2');
  assert.equal(exec.record.startKey, '2100');
  assert.equal(exec.record.ppid, 500);
  assert.equal(exec.record.args, undefined);
  assert.equal(exit.startKey, '2100');
});

test('socket records become listener records owned by the calling process, with its user', () => {
  const [e] = convert([fpm], [{
    type: 'listen', proc: proc(500, 1, 1000, 'php-fpm8.2'),
    socket: { transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 9000, ifindex: 0, inode: 777, cookie: 0n },
  }]);
  assert.ok(e?.kind === 'listen');
  assert.deepEqual({ ...e.record }, {
    netns: '4026531840', transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 9000, inode: 777, owners: [500], uid: 33,
  });
  assert.equal(e.ownerRecord, undefined, 'a known owner is not read again');
});

test('an exec keeps the kernel\'s credentials: the effective uid is the user, the real uid goes beside it', () => {
  // A setuid-root program (euid 0) run by uid 1000, and a plain one.
  const [suid, plain] = convert([], [
    { type: 'exec', proc: proc(700, 1, 3000, 'find', { uid: 1000, euid: 0 }), filename: '/usr/bin/find', args: ['find', '.', '-exec', '/bin/sh', '-p', ';'] },
    { type: 'exec', proc: proc(701, 1, 3001, 'id', { uid: 1000, euid: 1000 }), filename: '/usr/bin/id', args: ['id'] },
  ]);
  assert.ok(suid?.kind === 'exec' && plain?.kind === 'exec');
  assert.equal(suid.record.uid, 0);
  assert.equal(suid.record.realUid, 1000);
  assert.equal(plain.record.uid, 1000);
  assert.equal(plain.record.realUid, 1000);
});

test('an exec of a process still in /proc takes its details from there and its credentials from the kernel', (t) => {
  // The shell already dropped its setuid privileges when /proc is read: status says uid 1000.
  const root = mkdtempSync(join(tmpdir(), 'pw-proc-'));
  t.after(() => { rmSync(root, { recursive: true, force: true }); });
  mkdirSync(join(root, '800'));
  writeFileSync(join(root, '800', 'stat'), `800 (sh) S 1 800 800 ${'0 '.repeat(15)}5000 0 0`);
  writeFileSync(join(root, '800', 'status'), 'Name:\tsh\nUid:\t1000\t1000\t1000\t1000\n');
  const passwd = join(root, 'passwd');
  writeFileSync(passwd, 'alice:x:1000:1000::/home/alice:/bin/bash\n');
  const c = new RecordConverter({ ctx: { ...ctx, procRoot: root, users: new UserNames(passwd) }, polled: new Map() });
  const out: RealtimeEvent[] = [];
  c.convert([{ type: 'exec', proc: proc(800, 1, 5000, 'sh', { uid: 1000, euid: 0 }), filename: '/usr/bin/dash', args: ['sh', '-c', 'id'] }], out);
  const [e] = out;
  assert.ok(e?.kind === 'exec');
  assert.equal(e.record.pgid, 800, 'read from /proc');
  assert.deepEqual([e.record.uid, e.record.userName, e.record.realUid, e.record.realUserName], [0, undefined, 1000, 'alice']);
});
