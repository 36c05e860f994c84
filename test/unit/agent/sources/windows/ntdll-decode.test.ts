import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOwnerModuleBasicInfo, serviceNameFromModule, walkSystemProcessInformation } from '../../../../../agent/sources/windows/ntdll-decode.js';
import { buildOwnerModule, buildProcessTable } from '../../../../../testkit/windows-buffers.js';

const BASE = 0x1_2340_0000n;

test('SYSTEM_PROCESS_INFORMATION: entries are walked by NextEntryOffset, names read through their pointers', () => {
  const buf = buildProcessTable([
    { pid: 0, ppid: 0, createTime: 0n, imageName: '' },
    { pid: 4, ppid: 0, createTime: 134080000000000000n, imageName: 'System' },
    { pid: 5120, ppid: 4410, createTime: 134080123456789012n, imageName: 'node.exe', sessionId: 1 },
  ], BASE);
  const { entries, warnings } = walkSystemProcessInformation(buf, BASE);
  assert.deepEqual(warnings, []);
  assert.deepEqual(entries.map((e) => [e.pid, e.ppid, e.imageName, e.sessionId]), [
    [0, 0, '', 0], [4, 0, 'System', 0], [5120, 4410, 'node.exe', 1],
  ]);
  assert.equal(entries[2]!.createTime, 134080123456789012n);
});

test('SYSTEM_PROCESS_INFORMATION: a truncated chain stops with a warning instead of reading past the end', () => {
  const buf = buildProcessTable([
    { pid: 8, ppid: 4, createTime: 1n, imageName: 'a.exe' },
    { pid: 9, ppid: 8, createTime: 2n, imageName: 'b.exe' },
  ], BASE);
  const { entries, warnings } = walkSystemProcessInformation(buf.subarray(0, 300), BASE);
  assert.deepEqual(entries.map((e) => e.pid), [8]);
  assert.match(warnings.join(' '), /truncated at offset 256/);
});

test('SYSTEM_PROCESS_INFORMATION: a name pointer outside the buffer and a looping offset are reported', () => {
  const buf = buildProcessTable([{ pid: 8, ppid: 4, createTime: 1n, imageName: 'a.exe' }], BASE);
  const w = walkSystemProcessInformation(buf, BASE + 0x100000n);
  assert.equal(w.entries[0]!.imageName, '');
  assert.match(w.warnings[0] ?? '', /outside the buffer/);
  const loop = Buffer.from(buf);
  loop.writeUInt32LE(8, 0);
  assert.match(walkSystemProcessInformation(loop, BASE).warnings.join(' '), /smaller than an entry/);
});

test('TCPIP_OWNER_MODULE_BASIC_INFO: module name and path through pointers into the buffer', () => {
  const m = decodeOwnerModuleBasicInfo(buildOwnerModule(BASE, 'TermService', 'C:\\Windows\\System32\\svchost.exe'), BASE);
  assert.deepEqual(m, { moduleName: 'TermService', modulePath: 'C:\\Windows\\System32\\svchost.exe' });
  assert.deepEqual(decodeOwnerModuleBasicInfo(Buffer.alloc(8), BASE), {});
});

test('service name: a service tag name is a service, the program\'s own file name is not', () => {
  assert.equal(serviceNameFromModule({ moduleName: 'TermService', modulePath: 'C:\\Windows\\System32\\svchost.exe' }, 'svchost.exe'), 'TermService');
  assert.equal(serviceNameFromModule({ moduleName: 'node.exe', modulePath: 'C:\\Program Files\\nodejs\\node.exe' }, 'node.exe'), undefined);
  assert.equal(serviceNameFromModule({ moduleName: 'sqlservr.exe', modulePath: 'C:\\x\\sqlservr.exe' }, undefined), undefined);
  assert.equal(serviceNameFromModule({}, 'svchost.exe'), undefined);
});
