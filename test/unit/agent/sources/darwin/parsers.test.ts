import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { lsofEndpoint, parseLsofFields } from '../../../../../agent/sources/darwin/lsof-parse.js';
import { parsePsComm, parsePsLstart, type LocalTime } from '../../../../../agent/sources/darwin/ps-parse.js';
import { fixture } from '../../../../../testkit/paths.js';

const utc: LocalTime = (y, mo, d, h, mi, s) => Date.UTC(y, mo, d, h, mi, s);
const read = (n: string) => readFileSync(fixture('darwin', n), 'utf8');

test('lsof -F TCP: process sets, file sets, full command names, shared sockets keep their device', () => {
  const { sockets, warnings } = parseLsofFields(read('lsof-tcp-listen-F.txt'));
  assert.deepEqual(warnings, []);
  assert.equal(sockets.length, 10);
  const chrome = sockets.find((s) => s.pid === 3301)!;
  assert.deepEqual([chrome.command, chrome.ppid, chrome.uid, chrome.login, chrome.name, chrome.state],
    ['Google Chrome Helper', 3290, 501, 'kbrazil', '127.0.0.1:9222', 'LISTEN']);
  const nginx = sockets.filter((s) => s.name === '*:8080');
  assert.deepEqual(nginx.map((s) => [s.pid, s.device]), [[2210, '0x5f3e1c2a9b7d6b20'], [2211, '0x5f3e1c2a9b7d6b20']]);
  assert.equal(sockets.find((s) => s.pid === 3360)!.command, 'weird\\x09name', 'non-printables stay escaped as lsof prints them');
});

test('lsof endpoints: * per family, [::1], KAME scope to zone, connected UDP skipped', () => {
  const tcp = parseLsofFields(read('lsof-tcp-listen-F.txt')).sockets.map(lsofEndpoint);
  assert.deepEqual(tcp[0], { transport: 'tcp', family: 'ipv6', address: '::', port: 22 });
  assert.deepEqual(tcp[1], { transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port: 22 });
  assert.deepEqual(tcp[2], { transport: 'tcp', family: 'ipv6', address: '::1', port: 5432 });
  assert.deepEqual(tcp[8], { transport: 'tcp', family: 'ipv6', address: 'fe80::aede:48ff:fe00:1122', zone: '4', port: 3000 });
  const udp = parseLsofFields(read('lsof-udp-F.txt')).sockets.map(lsofEndpoint);
  assert.deepEqual(udp.map((e) => (e === undefined ? 'skip' : `${e.transport} ${e.address}${e.zone === undefined ? '' : `%${e.zone}`} ${e.port}`)), [
    'udp 0.0.0.0 5353', 'udp :: 5353', 'skip', 'udp fe80::aede:48ff:fe00:1122%4 123', 'udp 127.0.0.1 123',
  ]);
  assert.equal(lsofEndpoint({ pid: 1, protocol: 'TCP', name: '*:80', state: 'ESTABLISHED' }), undefined);
  assert.equal(lsofEndpoint({ pid: 1, protocol: 'TCP', name: '*:99999' }), undefined);
  assert.deepEqual(lsofEndpoint({ pid: 1, protocol: 'TCP', name: '[fe80::1%lo0]:631' }), { transport: 'tcp', family: 'ipv6', address: 'fe80::1', zone: 'lo0', port: 631 });
});

test('lsof -F0 (NUL-terminated fields) parses the same; junk before a process set and bad pids are ignored or reported', () => {
  const nl = read('lsof-udp-F.txt');
  assert.deepEqual(parseLsofFields(nl.replace(/\n/g, '\0')).sockets, parseLsofFields(nl).sockets);
  const junk = parseLsofFields('f3\nn*:1\npabc\nf4\n');
  assert.equal(junk.sockets.length, 0);
  assert.match(junk.warnings[0] ?? '', /bad pid/);
});

test('property: arbitrary field soup never throws and every socket has a numeric pid', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('p', 'c', 'f', 'n', 'P', 't', 'T', 'R', 'x'), fc.string({ maxLength: 12 }))), (fields) => {
    const text = fields.map(([k, v]) => `${k}${v}`).join('\n');
    const { sockets } = parseLsofFields(text);
    return sockets.every((s) => Number.isInteger(s.pid)) && sockets.every((s) => lsofEndpoint(s) === undefined || lsofEndpoint(s)!.port <= 65535);
  }));
});

test('ps lstart rows (derived from the jc macOS fixture): commands with spaces, exact start seconds', () => {
  const { rows, warnings } = parsePsLstart(read('ps-lstart.txt'), utc);
  assert.deepEqual(warnings, []);
  assert.equal(rows.length, 384);
  const launchd = rows[0]!;
  assert.deepEqual([launchd.pid, launchd.ppid, launchd.uid, launchd.user, launchd.args], [1, 0, 0, 'root', '/sbin/launchd']);
  assert.equal(new Date(launchd.startSeconds * 1000).toISOString(), '2026-11-02T12:09:05.000Z');
  const sublime = rows.find((r) => r.pid === 560)!;
  assert.equal(sublime.args, '/Applications/Sublime Text.app/Contents/MacOS/Sublime Text -psn_0_110619');
  assert.equal(rows.find((r) => r.pid === 41)!.args, '/usr/libexec/UserEventAgent (System)');
  const pids = new Set(rows.map((r) => r.pid));
  assert.ok(rows.every((r) => r.ppid === 0 || pids.has(r.ppid)), 'the recording has no orphans');
  assert.equal(rows.find((r) => r.pid === 2211)!.uid, -2, 'nobody');
  assert.equal(rows.find((r) => r.pid === 3360)!.args, './weird\tname');
});

test('ps lstart: space-padded days, empty args, garbage lines, host-local default', () => {
  const text = '  123     1   501 alice   Fri Jul  3 09:05:01 2020\n' +
    ' 9999  8888     0 root    Sat Jul  4 00:00:00 2020     /usr/bin/orphan --x\nnot a ps row\n';
  const { rows, warnings } = parsePsLstart(text, utc);
  assert.deepEqual(rows.map((r) => [r.pid, r.ppid, new Date(r.startSeconds * 1000).toISOString(), r.args]), [
    [123, 1, '2020-07-03T09:05:01.000Z', ''], [9999, 8888, '2020-07-04T00:00:00.000Z', '/usr/bin/orphan --x'],
  ]);
  assert.equal(warnings.length, 1);
  const local = parsePsLstart(text).rows[0]!;
  assert.equal(local.startSeconds, new Date(2020, 6, 3, 9, 5, 1).getTime() / 1000);
});

test('ps comm: executable paths with spaces', () => {
  const m = parsePsComm(read('ps-comm.txt'));
  assert.equal(m.get(560), '/Applications/Sublime Text.app/Contents/MacOS/Sublime Text');
  assert.equal(m.get(1), '/sbin/launchd');
  assert.equal(m.get(609), '-bash');
});

test('the lstart fixture keeps the recorded macOS ps -ef facts (pids, parents, uids, command lines with spaces)', () => {
  const ef = read('macos-10.14.6-ps-ef.txt').split('\n').slice(1).filter((l) => l.trim().length > 0);
  const recorded = ef.map((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(l)!;
    return { uid: Number(m[1]), pid: Number(m[2]), ppid: Number(m[3]), args: m[4]! };
  });
  const rows = new Map(parsePsLstart(read('ps-lstart.txt'), utc).rows.map((r) => [r.pid, r]));
  assert.equal(recorded.length, 377);
  for (const r of recorded) {
    const got = rows.get(r.pid);
    assert.deepEqual(got && { uid: got.uid, pid: got.pid, ppid: got.ppid, args: got.args }, r, `pid ${r.pid}`);
  }
});

test('property: any ps row round-trips (pid, parent, uid, user, start second, args with spaces)', () => {
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  fc.assert(fc.property(fc.nat(99999), fc.nat(99999), fc.integer({ min: -2, max: 70000 }), fc.stringMatching(/^[_a-z][a-z0-9_]{0,15}$/),
    fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2037-12-31T23:59:59Z'), noInvalidDate: true }),
    fc.array(fc.stringMatching(/^[^\s]{1,12}$/), { maxLength: 6 }),
    (pid, ppid, uid, user, date, argv) => {
      const d = new Date(Math.floor(date.getTime() / 1000) * 1000);
      const two = (n: number) => String(n).padStart(2, '0');
      const lstart = `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
      const args = argv.join(' ');
      const { rows } = parsePsLstart(`${String(pid).padStart(5)} ${String(ppid).padStart(5)} ${String(uid).padStart(5)} ${user} ${lstart} ${args}\n`, utc);
      const r = rows[0];
      return rows.length === 1 && r !== undefined && r.pid === pid && r.ppid === ppid && r.uid === uid && r.user === user &&
        r.startSeconds * 1000 === d.getTime() && r.args === args;
    }));
});
