import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  classifyFdLink, compressIpv6, joinCommandLine, parseCgroupContainerId, parseCmdline, parseExeLink, parseProcNet, parseNoLoginUids, parseSsLine, parseStat, parseStatusUids, parseTaskCounters, tcpInodes,
} from '../../../../../agent/sources/linux/proc-parsers.js';
import { fixture } from '../../../../../testkit/paths.js';

const read = (name: string) => readFileSync(fixture('linux', name), 'utf8');
const key = (r: { transport: string; address: string; port: number; inode: number }) => `${r.transport} ${r.address} ${r.port} ${r.inode}`;

test('/proc/net/tcp keeps LISTEN rows only, decoding little-endian IPv4', () => {
  const { rows, bad } = parseProcNet(read('proc-net-tcp.txt'), 'tcp', 'ipv4');
  assert.equal(bad, 0);
  const mine = rows.filter((r) => r.port >= 47000 && r.port < 47100).map(key);
  // 127.0.0.1:47005 listens; its accepted and connecting sockets (state 01) must not appear.
  assert.deepEqual(mine, ['tcp 127.0.0.1 47005 35878']);
  assert.ok(rows.some((r) => r.address === '0.0.0.0' && r.port === 2024));
});

test('/proc/net/tcp6 decodes ::, ::1 and skips IPv4-mapped established rows', () => {
  const { rows } = parseProcNet(read('proc-net-tcp6.txt'), 'tcp', 'ipv6');
  assert.deepEqual(rows.map(key).sort(), ['tcp :: 47001 35874', 'tcp :: 47007 35882', 'tcp ::1 47002 35875'].sort());
});

test('UDP: bound and unconnected rows only (state 07, remote port 0)', () => {
  const v4 = parseProcNet(read('proc-net-udp.txt'), 'udp', 'ipv4').rows.map(key);
  assert.deepEqual(v4, ['udp 127.0.0.1 47004 35877']); // 47006 is connected: not a listener
  const v6 = parseProcNet(read('proc-net-udp6.txt'), 'udp', 'ipv6').rows.map(key);
  assert.deepEqual(v6, ['udp :: 47003 35876']);
});

test('/proc/net and ss agree on the recorded host (same sockets, same addresses)', () => {
  const proc = ['tcp', 'tcp6', 'udp', 'udp6'].flatMap((f) =>
    parseProcNet(read(`proc-net-${f}.txt`), f.startsWith('tcp') ? 'tcp' : 'udp', f.endsWith('6') ? 'ipv6' : 'ipv4').rows.map(key));
  const ss = read('ss-ltnuHe.txt').split('\n').filter((l) => l.trim() !== '').map((l) => {
    const r = parseSsLine(l);
    assert.ok(r, `unparsed ss line: ${l}`);
    return key(r);
  });
  assert.deepEqual(proc.sort(), ss.sort());
});

test('truncated and malformed /proc/net lines are counted, never thrown', () => {
  const text = read('proc-net-tcp.txt');
  const cut = text.slice(0, text.length - 40) + '\n  99: zz\n  100: 0100007F:1F90';
  const r = parseProcNet(cut, 'tcp', 'ipv4');
  assert.ok(r.bad >= 2);
  assert.ok(r.rows.length > 0);
});

test('stat: names with spaces, ")" and newlines; fields after the last ")"', () => {
  const s = parseStat(read('stat-weird-name.txt'));
  assert.ok(s);
  assert.equal(s.comm, 'we) ird\nna me');
  assert.equal(s.ppid, 15617);
  assert.equal(s.startTicks, '90725');
  assert.equal(parseStat('123 (cut off'), undefined);
  assert.equal(parseStat(''), undefined);
});

test('stat: fields 3-6 and 22 by position; a line cut before field 22 or with a non-numeric field is rejected', () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => String(i + 3));
  const line = (rest: string[]) => `42 (a b) ${rest.join(' ')}\n`;
  const full = ['S', '7', '8', '9', ...fields(46).slice(4)];
  const s = parseStat(line(full));
  assert.deepEqual(s, { comm: 'a b', state: 'S', ppid: 7, pgrp: 8, session: 9, startTicks: '22' });
  assert.equal(parseStat(`42 (a b) ${full.slice(0, 20).join(' ')}`)?.startTicks, '22', 'cut right after field 22');
  assert.equal(parseStat(line(full.slice(0, 19))), undefined, 'cut after field 21');
  assert.equal(parseStat(line(['S', 'x', ...full.slice(2)])), undefined, 'ppid not a number');
  assert.equal(parseStat(line(['S', '7', '', ...full.slice(3)])), undefined, 'empty pgrp');
  assert.equal(parseStat(line([...full.slice(0, 19), '2x'])), undefined, 'start ticks not a number');
});

test('exe link: (deleted) executables are flagged', () => {
  const e = parseExeLink(read('exe-link-deleted.txt'));
  assert.equal(e.deleted, true);
  assert.match(e.path, /\/dropper$/);
  assert.deepEqual(parseExeLink('/usr/sbin/sshd'), { path: '/usr/sbin/sshd', deleted: false });
});

test('cmdline: invalid UTF-8 becomes U+FFFD, valid unicode and spaces survive', () => {
  const args = parseCmdline(readFileSync(fixture('linux', 'cmdline-invalid-utf8.bin')));
  assert.equal(args.length, 6);
  assert.equal(args[3], 'caf\uFFFD-\uFFFD\uFFFD');
  assert.equal(args[4], 'héllo ✓');
  assert.equal(args[5], 'with space');
  assert.match(joinCommandLine(args), /'with space'$/);
});

test('cmdline: a 100 KB argument is kept whole by the parser', () => {
  const args = parseCmdline(readFileSync(fixture('linux', 'cmdline-100k.bin')));
  assert.equal(args.length, 4);
  assert.equal(args[3]?.length, 100_000);
});

test('container ids from docker and kubepods cgroups', () => {
  assert.equal(parseCgroupContainerId(read('cgroup-docker.txt')), '3f4e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7');
  assert.equal(parseCgroupContainerId(read('cgroup-kubepods.txt')), '8d1e5b0c9a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5');
  assert.equal(parseCgroupContainerId('0::/user.slice/user-1000.slice/session-2.scope\n'), undefined);
});

test('ss lines: dual-stack *, bracketed IPv6, zones, uid', () => {
  assert.deepEqual(parseSsLine('tcp LISTEN 0 128 *:47001 *:* ino:35874 sk:13 cgroup:/ v6only:0 <->'),
    { transport: 'tcp', family: 'ipv6', address: '::', port: 47001, inode: 35874, uid: 0 });
  assert.deepEqual(parseSsLine('udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:* uid:101 ino:99 sk:1 <->'),
    { transport: 'udp', family: 'ipv4', address: '127.0.0.53', port: 53, inode: 99, uid: 101, zone: 'lo' });
  assert.deepEqual(parseSsLine('udp UNCONN 0 0 [fe80::1]%eth0:123 [::]:* ino:7 sk:2 v6only:1 <->'),
    { transport: 'udp', family: 'ipv6', address: 'fe80::1', port: 123, inode: 7, uid: 0, zone: 'eth0' });
  assert.equal(parseSsLine('tcp ESTAB 0 0 127.0.0.1:1 127.0.0.1:2 ino:5'), undefined);
});

test('RFC 5952 compression', () => {
  assert.equal(compressIpv6(['0', '0', '0', '0', '0', '0', '0', '0']), '::');
  assert.equal(compressIpv6(['2001', 'db8', '0', '0', '1', '0', '0', '1']), '2001:db8::1:0:0:1');
  assert.equal(compressIpv6(['0', '0', '0', '0', '0', 'ffff', '7f00', '1']), '::ffff:127.0.0.1');
});

test('property: parsers never throw on arbitrary text or bytes', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
    parseStat(s);
    parseProcNet(`header\n${s}`, 'tcp', 'ipv4');
    parseProcNet(`header\n${s}`, 'udp', 'ipv6');
    parseSsLine(s);
    parseCgroupContainerId(s);
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => { parseCmdline(b); }), { numRuns: 500 });
});

test('property: cmdline round-trips any NUL-free UTF-8 arguments', () => {
  const arg = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0'));
  fc.assert(fc.property(fc.array(arg, { minLength: 1, maxLength: 8 }), (args) => {
    const buf = Buffer.from(args.map((a) => `${a}\0`).join(''), 'utf8');
    assert.deepEqual(parseCmdline(buf), args);
  }), { numRuns: 300 });
});

test('stdin kinds from fd/0 links, and TCP inodes from /proc/net/tcp', () => {
  assert.equal(classifyFdLink('socket:[35883]'), 'socket');
  assert.equal(classifyFdLink('pipe:[1234]'), 'pipe');
  assert.equal(classifyFdLink('/dev/pts/3'), 'tty');
  assert.equal(classifyFdLink('/dev/null'), 'null');
  assert.equal(classifyFdLink('/home/a/input.txt'), 'file');
  const inodes = tcpInodes(read('proc-net-tcp6.txt'));
  assert.ok(inodes.has(35883) && inodes.has(35874), 'established and listening rows both count');
  assert.ok(!inodes.has(35876), 'a UDP inode is not a TCP one');
});

test('/proc/loadavg gives the task count and the last pid handed out', () => {
  assert.equal(parseTaskCounters('0.20 0.18 0.12 1/80 11206\n'), '80 11206');
  assert.equal(parseTaskCounters('12.03 4.43 3.88 17/2104 4194301'), '2104 4194301');
  // Anything else (a kernel that changed the format, a truncated read) disables the shortcut.
  for (const bad of ['', '0.20 0.18 0.12 1/80', '0.20 0.18 0.12 80 11206', '0.20 0.18 0.12 1/80 11206 extra', 'garbage']) {
    assert.equal(parseTaskCounters(bad), undefined, JSON.stringify(bad));
  }
});

test('parseStatusUids: real and effective uid of a setuid-root program run by nobody (recorded /proc/<pid>/status)', () => {
  assert.deepEqual(parseStatusUids(readFileSync(fixture('linux/status-setuid.txt'), 'latin1')), { real: 65534, effective: 0 });
  assert.deepEqual(parseStatusUids('Name:\tsh\nUid:\t1000\t1000\t1000\t1000\n'), { real: 1000, effective: 1000 });
  assert.equal(parseStatusUids('Name:\tsh\n'), undefined);
});

test('parseNoLoginUids: accounts whose login shell refuses logins (Debian 12 /etc/passwd lines)', () => {
  const passwd = ['root:x:0:0:root:/root:/bin/bash', 'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin', 'sync:x:4:65534:sync:/bin:/bin/sync',
    'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin', 'postgres:x:105:111:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash',
    'appsvc:x:1500:1500::/srv/app:/bin/false', 'alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash', 'broken line', ''].join('\n');
  assert.deepEqual([...parseNoLoginUids(passwd)].sort((a, b) => a - b), [1, 33, 1500]);
});
