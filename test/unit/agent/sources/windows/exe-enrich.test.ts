import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeExeInfo, type ExeInfo } from '../../../../../agent/sources/pe/exe-info.js';
import { ExeEnricher } from '../../../../../agent/sources/windows/exe-enrich.js';
import { WindowsProcessTable } from '../../../../../agent/sources/windows/process-table.js';
import { decodeIntegrityLevel, integrityName, readWorkingDirectory } from '../../../../../agent/sources/windows/token-decode.js';

/** TOKEN_MANDATORY_LABEL as GetTokenInformation fills it on x64: pointer, attributes, padding, then the SID. */
function label(rid: number, authority = 16): Buffer {
  const b = Buffer.alloc(16 + 12);
  b.writeBigUInt64LE(0x1234_5678_0010n, 0);
  b.writeUInt32LE(0x20, 8); // SE_GROUP_INTEGRITY
  b[16] = 1; // revision
  b[17] = 1; // one sub-authority
  b.writeUIntBE(authority, 18, 6);
  b.writeUInt32LE(rid, 24);
  return b;
}

test('integrity levels decode from the token label to the names Sysmon writes', () => {
  assert.equal(decodeIntegrityLevel(label(0x2000)), 'Medium');
  assert.equal(decodeIntegrityLevel(label(0x3000)), 'High');
  assert.equal(decodeIntegrityLevel(label(0x4000)), 'System');
  assert.equal(decodeIntegrityLevel(label(0x1000)), 'Low');
  assert.equal(decodeIntegrityLevel(label(0x0000)), 'Untrusted');
  assert.equal(decodeIntegrityLevel(label(0x2100)), 'MediumPlus');
  assert.equal(decodeIntegrityLevel(label(0x5000)), 'Protected');
  assert.equal(integrityName(0x3100), 'High', 'between levels: the one below');
  assert.equal(decodeIntegrityLevel(label(0x3000, 5)), undefined, 'not a mandatory label SID (NT AUTHORITY)');
  assert.equal(decodeIntegrityLevel(label(0x3000).subarray(0, 20)), undefined, 'cut short');
});

test('the working directory is read through the PEB and the process parameters; any refused read gives none', () => {
  const PEB = 0x7ff6_0000_0000n;
  const PARAMS = 0x0000_0200_0000n;
  const TEXT = 0x0000_0200_1000n;
  const dirText = Buffer.from('C:\\Users\\a\\AppData\\Local\\Temp\\', 'utf16le');
  const memory = new Map<bigint, Buffer>();
  const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
  memory.set(PEB + 0x20n, u64(PARAMS));
  const us = Buffer.alloc(16);
  us.writeUInt16LE(dirText.length, 0);
  us.writeUInt16LE(dirText.length + 2, 2);
  us.writeBigUInt64LE(TEXT, 8);
  memory.set(PARAMS + 0x38n, us);
  memory.set(TEXT, dirText);
  const pbi = Buffer.alloc(48);
  pbi.writeBigUInt64LE(PEB, 8);
  const mem = (addr: bigint, len: number) => memory.get(addr)?.subarray(0, len);
  assert.equal(readWorkingDirectory(pbi, mem), 'C:\\Users\\a\\AppData\\Local\\Temp\\');
  assert.equal(readWorkingDirectory(pbi, (a, l) => (a === TEXT ? undefined : mem(a, l))), undefined, 'the text refused');
  assert.equal(readWorkingDirectory(pbi, (a, l) => (a === TEXT ? dirText.subarray(0, 4) : mem(a, l))), undefined, 'a short read');
  us.writeUInt16LE(0xffff, 0);
  assert.equal(readWorkingDirectory(pbi, mem), undefined, 'an odd or oversized length');
  assert.equal(readWorkingDirectory(Buffer.alloc(48), mem), undefined, 'no PEB');
});

/**
 * A file `name` holding `content` in a temp dir, and a computeExeInfo that reads it only once
 * `open()` is called; `read` settles with what that read gave.
 */
function gatedExe(t: TestContext, name: string, content: string) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-exe-'));
  t.after(() => { rmSync(dir, { recursive: true, force: true }); });
  const exe = join(dir, name);
  writeFileSync(exe, content);
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  let finished: (info: ExeInfo) => void = () => undefined;
  const read = new Promise<ExeInfo>((resolve) => { finished = resolve; });
  const compute = async (p: string, o: Parameters<typeof computeExeInfo>[1]): Promise<ExeInfo> => {
    await gate;
    const info = await computeExeInfo(p, o);
    finished(info);
    return info;
  };
  return { exe, open, read, compute };
}

test('a new process is held until its executable is read, then completed with the PE fields and hashes', async (t) => {
  const { exe, open, compute } = gatedExe(t, 'tool.exe', 'MZ a file that is not really PE');
  const enricher = new ExeEnricher({ hashes: ['md5', 'sha256'], maxHashBytes: 1e6 }, 0, 60_000, compute);
  const table = new WindowsProcessTable();
  table.update([{ pid: 900, ppid: 4, createTime: 1n, imageName: 'tool.exe', executable: exe }, { pid: 901, ppid: 4, createTime: 2n, imageName: 'nopath.exe' }]);
  enricher.start(table);
  await enricher.settle(table);
  assert.equal(table.get(900)?.detailsPending, true, 'held while its file is read');
  assert.equal(table.get(901)?.detailsPending, undefined, 'a process without a known executable is not held');
  const held = table.get(900);
  await enricher.settle(table);
  assert.equal(table.get(900), held, 'still the same record (no churn) while waiting');
  open();
  // The read itself takes real I/O: poll as the source does until the record is released.
  while (table.get(900)?.detailsPending === true) {
    await new Promise((r) => setTimeout(r, 10));
    await enricher.settle(table);
  }
  const done = table.get(900);
  assert.ok(done);
  assert.equal(done.detailsPending, undefined, 'released');
  assert.equal(done.sha256, createHash('sha256').update('MZ a file that is not really PE').digest('hex'));
  assert.equal(done.md5, createHash('md5').update('MZ a file that is not really PE').digest('hex'));
  assert.equal(done.pe, undefined, 'not a PE file: no PE fields');
  assert.equal(enricher.stats().failed, 1, 'counted');
});

test('a process caught before its image path is readable is held one poll and asked again once', () => {
  const table = new WindowsProcessTable();
  const base = [{ pid: 700, ppid: 4, createTime: 5n, imageName: 'child.exe' }];
  // What Windows answers for pid 700 at each poll.
  const os: { path?: string; cwd?: string } = {};
  const path = () => os.path;
  const probe = () => (os.cwd === undefined ? {} : { workingDirectory: os.cwd });
  table.update(base, path, probe);
  assert.equal(table.get(700)?.detailsPending, true, 'held: its event waits for the path');
  os.path = 'C:\\Tools\\child.exe';
  os.cwd = 'C:\\Work\\';
  table.update(base, path, probe);
  assert.deepEqual([table.get(700)?.executable, table.get(700)?.workingDirectory, table.get(700)?.detailsPending], ['C:\\Tools\\child.exe', 'C:\\Work\\', undefined]);
  const done = table.get(700);
  os.path = 'C:\\Other\\x.exe';
  table.update(base, path, probe);
  assert.equal(table.get(700), done, 'asked once only: the record is kept as it is');
  table.update([{ pid: 701, ppid: 4, createTime: 6n, imageName: 'denied.exe' }], () => undefined);
  table.update([{ pid: 701, ppid: 4, createTime: 6n, imageName: 'denied.exe' }], () => undefined);
  assert.equal(table.get(701)?.detailsPending, undefined, 'released after one more try even when still unreadable');
  assert.equal(table.get(701)?.executable, undefined);
});

test('a process whose working directory is refused at first sight (PEB not yet written) is held one poll and asked again once', () => {
  const table = new WindowsProcessTable();
  const base = [{ pid: 800, ppid: 4, createTime: 7n, imageName: 'early.exe' }];
  const os: { cwd?: string } = {};
  const asked: boolean[] = [];
  const probe = (_pid: number, again: boolean) => {
    asked.push(again);
    return os.cwd === undefined ? { integrityLevel: 'High', refused: true as const } : { integrityLevel: 'High', workingDirectory: os.cwd };
  };
  table.update(base, () => 'C:\\Tools\\early.exe', probe);
  assert.equal(table.get(800)?.detailsPending, true, 'held: its start event waits for the working directory');
  // Executable enrichment finishing does not release a record still to be asked again.
  table.enrich(800, { sha256: 'ab' }, true);
  assert.equal(table.get(800)?.detailsPending, true);
  os.cwd = 'C:\\Work\\';
  table.update(base, () => 'C:\\Tools\\early.exe', probe);
  assert.deepEqual([table.get(800)?.workingDirectory, table.get(800)?.integrityLevel, table.get(800)?.sha256, table.get(800)?.detailsPending], ['C:\\Work\\', 'High', 'ab', undefined]);
  assert.deepEqual(asked, [false, true], 'asked at first sight, then once more (the second refusal is the one counted)');
  // Fully readable at first sight: not held at all.
  table.update([{ pid: 801, ppid: 4, createTime: 8n, imageName: 'ok.exe' }], () => 'C:\\ok.exe', () => ({ integrityLevel: 'Medium', workingDirectory: 'C:\\' }));
  assert.equal(table.get(801)?.detailsPending, undefined);
  // A probe with nothing to ask (a 32-bit agent: no PEB walk) holds nothing.
  table.update([{ pid: 802, ppid: 4, createTime: 9n, imageName: 'x.exe' }], () => 'C:\\x.exe', () => ({}));
  assert.equal(table.get(802)?.detailsPending, undefined);
});

test('a process released before its executable is read gets the fields on its record when the read ends', async (t) => {
  const { exe, open, read, compute } = gatedExe(t, 'slow.exe', 'MZ on a slow share');
  // Gives up at once: the first poll releases the process without its fields.
  const enricher = new ExeEnricher({ hashes: ['sha256'], maxHashBytes: 1e6 }, 0, -1, compute);
  const table = new WindowsProcessTable();
  table.update([{ pid: 910, ppid: 4, createTime: 1n, imageName: 'slow.exe', executable: exe }]);
  enricher.start(table);
  await enricher.settle(table);
  assert.equal(table.get(910)?.detailsPending, undefined, 'released');
  assert.equal(table.get(910)?.sha256, undefined);
  open();
  await read;
  await new Promise((r) => setImmediate(r));
  await enricher.settle(table);
  assert.equal(table.get(910)?.detailsPending, undefined, 'not held again');
  assert.equal(table.get(910)?.sha256, createHash('sha256').update('MZ on a slow share').digest('hex'));
});
