import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCimListenersJson } from '../../../../../agent/sources/windows/cim-listeners.js';
import { filetimeToIso } from '../../../../../agent/sources/windows/iphlp-decode.js';
import { parseDmtf, parseFormatList, parsePsDate, parsePsJson, splitCommandLine, splitUser } from '../../../../../agent/sources/windows/powershell-json.js';
import { parseWin32ProcessJson, processDetailsScript, win32RowsFromRecords } from '../../../../../agent/sources/windows/win32-process.js';
import { fixture, sharedDir } from '../../../../../testkit/paths.js';

const text = (name: string) => readFileSync(fixture('windows', name), 'utf8');

test('ConvertTo-Json: a single object (not an array), a BOM, empty output', () => {
  assert.equal(parsePsJson(text('ps-get-nettcpconnection-single.json')).length, 1);
  assert.deepEqual(parsePsJson(''), []);
  assert.deepEqual(parsePsJson('\uFEFF  \r\n'), []);
  assert.deepEqual(parsePsJson('[1,2]'), [1, 2]);
  assert.throws(() => parsePsJson('{"a":'), SyntaxError);
});

test('dates: \\/Date(ms)\\/ (5.1), ISO (7), DMTF with an offset in minutes', () => {
  assert.equal(parsePsDate('/Date(1666572250000)/')?.toISOString(), '2022-10-24T00:44:10.000Z');
  assert.equal(parsePsDate('\\/Date(1666572250000)\\/')?.toISOString(), '2022-10-24T00:44:10.000Z');
  assert.equal(parsePsDate('/Date(1666572250000+0200)/')?.toISOString(), '2022-10-24T00:44:10.000Z');
  assert.equal(parsePsDate('2026-11-20T08:15:31.5+00:00')?.toISOString(), '2026-11-20T08:15:31.500Z');
  assert.equal(parseDmtf('20170712121425.018613-420')?.toISOString(), '2017-07-12T19:14:25.018Z', '-420 = UTC-7');
  assert.equal(parseDmtf('20261120000200.000000+060')?.toISOString(), '2026-11-19T23:02:00.000Z');
  assert.equal(parsePsDate(''), undefined);
  assert.equal(parsePsDate(null), undefined);
  assert.equal(parseDmtf('2017'), undefined);
});

test('Get-NetTCPConnection single object (PS 5.1): numeric Listen state and the bind time', () => {
  const { rows, warnings } = parseCimListenersJson(text('ps-get-nettcpconnection-single.json'), 'tcp');
  assert.deepEqual(warnings, []);
  assert.deepEqual(rows, [{ transport: 'tcp', address: '0.0.0.0', port: 3389, pid: 1184, boundAt: '2026-11-20T08:15:30.250Z' }]);
  const udp = parseCimListenersJson(text('ps7-get-netudpendpoint.json'), 'udp').rows;
  assert.deepEqual(udp.map((r) => [r.address, r.port, r.pid, r.boundAt]), [
    ['0.0.0.0', 5353, 2208, '2026-11-20T08:15:31.500Z'], ['fe80::1c2d:3e4f:5a6b:7c8d%12', 1900, 3920, undefined],
  ]);
});

test('Get-NetTCPConnection raw CIM envelope (research fixture, BUSL: read in place, never copied)', (t) => {
  const f = join(sharedDir, 'research', 'fixtures', 'windows-Get-NetTCPConnection-ConvertTo-Json-ps51.json');
  if (!existsSync(f)) { t.skip('research fixtures not present'); return; }
  const { rows } = parseCimListenersJson(readFileSync(f, 'utf8'), 'tcp');
  assert.ok(rows.length >= 1);
  assert.deepEqual(rows[0], { transport: 'tcp', address: '::', port: 49672, pid: 2136, boundAt: '2022-10-24T00:44:10.000Z' });
});

test('Win32_Process JSON: empty command line stays absent, DOMAIN and user split, FILETIME kept exact', () => {
  const { rows, warnings } = parseWin32ProcessJson(text('ps-win32-process-details.json'));
  assert.deepEqual(warnings, []);
  const node = rows.find((r) => r.pid === 5120)!;
  assert.equal(node.executable, 'C:\\Program Files\\nodejs\\node.exe');
  assert.deepEqual([node.user, node.domain], ['alice', 'CORP']);
  assert.equal(filetimeToIso(node.created!), '2026-11-20T08:02:00.000Z');
  const protectedProc = rows.find((r) => r.pid === 6000)!;
  assert.equal(protectedProc.commandLine, undefined, '"" means unreadable, not "no arguments"');
  assert.equal(protectedProc.user, undefined);
  const single = parseWin32ProcessJson('{"ProcessId":9,"ParentProcessId":1,"Name":"x.exe","CommandLine":"x","CreationDate":"\\/Date(1666572250000)\\/","User":"CORP\\\\bob"}');
  assert.equal(single.rows.length, 1);
  assert.deepEqual([single.rows[0]!.user, single.rows[0]!.domain], ['bob', 'CORP']);
  assert.equal(filetimeToIso(single.rows[0]!.created!), '2022-10-24T00:44:10.000Z');
});

test('Format-List Win32_Process (own recording): wrapped values, DMTF dates, dead parents kept', () => {
  const rows = win32RowsFromRecords(parseFormatList(text('ps-win32-process-format-list.txt')));
  assert.deepEqual(rows.map((r) => r.pid), [0, 4, 404, 612, 4410, 7000]);
  const agent = rows.find((r) => r.pid === 7000)!;
  assert.equal(agent.commandLine, '"C:\\Program Files\\Very Long Vendor Name\\Agent\\agent.exe" --config "C:\\ProgramData\\Very Long Vendor Name\\agent.yaml" --verbose');
  assert.equal(agent.executable, 'C:\\Program Files\\Very Long Vendor Name\\Agent\\agent.exe');
  assert.equal(filetimeToIso(agent.created!), '2026-11-19T23:02:00.000Z');
  const pids = new Set(rows.map((r) => r.pid));
  assert.deepEqual(rows.filter((r) => r.ppid !== undefined && r.ppid > 0 && !pids.has(r.ppid)).map((r) => r.name), ['csrss.exe', 'wininit.exe', 'explorer.exe']);
  assert.equal(rows[0]!.created, undefined, 'the idle process has no creation date');
});

test('Format-List Win32_Process research fixture (no licence: read in place) gives 42 processes and its orphans', (t) => {
  const f = join(sharedDir, 'research', 'fixtures', 'windows-Win32_Process-Get-WmiObject-list.txt');
  if (!existsSync(f)) { t.skip('research fixtures not present'); return; }
  const rows = win32RowsFromRecords(parseFormatList(readFileSync(f, 'utf8')));
  assert.equal(rows.length, 42);
  const pids = new Set(rows.map((r) => r.pid));
  const orphans = rows.filter((r) => r.ppid !== undefined && r.ppid > 0 && !pids.has(r.ppid));
  assert.ok(orphans.some((r) => r.name === 'explorer.exe' && r.ppid === 1860));
  assert.ok(orphans.some((r) => r.name === 'csrss.exe'));
  assert.ok(rows.filter((r) => r.pid > 4).every((r) => r.created !== undefined), 'every DMTF date parsed');
});

test('CommandLineToArgvW splitting: quoted program paths, escaped quotes, backslashes', () => {
  assert.deepEqual(splitCommandLine('"C:\\Program Files\\nodejs\\node.exe" C:\\srv\\app\\server.js --port 8080 --title "a \\"b\\" c"'),
    ['C:\\Program Files\\nodejs\\node.exe', 'C:\\srv\\app\\server.js', '--port', '8080', '--title', 'a "b" c']);
  assert.deepEqual(splitCommandLine('C:\\Windows\\System32\\svchost.exe -k NetworkService -s TermService'),
    ['C:\\Windows\\System32\\svchost.exe', '-k', 'NetworkService', '-s', 'TermService']);
  assert.deepEqual(splitCommandLine('a.exe "C:\\dir\\\\" x\\\\\\"y'), ['a.exe', 'C:\\dir\\', 'x\\"y']);
  assert.deepEqual(splitCommandLine('   '), []);
});

test('users: DOMAIN\\user, user@domain and bare names', () => {
  assert.deepEqual(splitUser('NT AUTHORITY\\SYSTEM'), { domain: 'NT AUTHORITY', name: 'SYSTEM' });
  assert.deepEqual(splitUser('bob@corp.example'), { name: 'bob', domain: 'corp.example' });
  assert.deepEqual(splitUser('alice'), { name: 'alice' });
});

test('details script: only numeric pids reach the WQL filter; many pids use one unfiltered query', () => {
  const s = processDetailsScript([5120, 6000]);
  assert.match(s, /-Filter 'ProcessId=5120 OR ProcessId=6000'/);
  assert.doesNotMatch(processDetailsScript([1.5, -1]), /-Filter/);
  assert.doesNotMatch(processDetailsScript(Array.from({ length: 300 }, (_, i) => i + 8)), /-Filter/);
});
