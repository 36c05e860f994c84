import { test } from 'node:test';
import assert from 'node:assert/strict';
import koffi from 'koffi';
import { memoryLogger } from '../../../../../agent/log/logger.js';
import { bindExports, type KoffiLib } from '../../../../../agent/sources/windows/ffi-bind.js';
import { bindWindowsNative, WINDOWS_EXPORTS } from '../../../../../agent/sources/windows/native-ffi.js';
import type { NativeLoad } from '../../../../../agent/sources/windows/native.js';
import { createWindowsSource } from '../../../../../agent/sources/windows/source.js';
import { recordedHost } from './recorded-host.js';

// Real koffi over this machine's C library: one export exists, the Windows ones do not.
const open = (dll: string): KoffiLib => koffi.load(dll === 'libc' ? 'libc.so.6' : dll);

test('exports are bound one by one: a missing one is reported with what is lost, the others work', () => {
  const { fns, missing } = bindExports(open, {
    pid: { dll: 'libc', proto: 'int getpid()', lost: 'nothing' },
    owner: { dll: 'libc', proto: 'uint32_t GetOwnerModuleFromTcpEntry(void *row, int cls, void *buf, _Inout_ uint32_t *size)', lost: 'service names' },
    gone1: { dll: 'no-such-library.so', proto: 'int a()', lost: 'A' },
    gone2: { dll: 'no-such-library.so', proto: 'int b()', lost: 'B' },
  });
  assert.equal(fns.pid?.(), process.pid, 'the export that exists is callable');
  assert.equal(fns.owner, undefined);
  assert.deepEqual(missing.map((m) => [m.fn, m.lost]), [
    ['libc!GetOwnerModuleFromTcpEntry', 'service names'],
    ['no-such-library.so!a', 'A'],
    ['no-such-library.so!b', 'B'],
  ]);
  assert.match(missing[0]!.reason, /GetOwnerModuleFromTcpEntry/);
  assert.match(missing[1]!.reason, /no-such-library\.so could not be loaded/);
});

test('the Win32 layer over a library without its exports: each is missing, calls degrade instead of crashing', () => {
  const native = bindWindowsNative(koffi, () => open('libc'));
  assert.equal(native.missing.length, Object.keys(WINDOWS_EXPORTS).length);
  assert.ok(native.missing.some((m) => m.fn === 'iphlpapi.dll!GetOwnerModuleFromUdp6Entry' && /service_name/.test(m.lost)));
  assert.throws(() => native.table('tcp4'), { code: 'WIN32_EXPORT_MISSING' });
  assert.throws(() => native.processTable(), { code: 'WIN32_EXPORT_MISSING' });
  assert.equal(native.ownerModule('tcp4', Buffer.alloc(32)), undefined);
  assert.equal(native.imagePath(1234), undefined);
});

/** The recorded host, on a system without GetOwnerModuleFrom*Entry (as wine is). */
function withoutOwnerModule(host: ReturnType<typeof recordedHost>): void {
  const load = host.runner.loadNative.bind(host.runner);
  host.runner.loadNative = async (): Promise<NativeLoad> => {
    const l = await load();
    if (l.kind !== 'ok') return l;
    const missing = (['tcp4', 'tcp6', 'udp4', 'udp6'] as const).map((k) => ({ fn: `iphlpapi.dll!${/(\w+)\(/.exec(WINDOWS_EXPORTS[k].proto)![1]!}`, reason: 'Cannot find function', lost: WINDOWS_EXPORTS[k].lost }));
    return { kind: 'ok', native: { ...l.native, missing, ownerModule: () => undefined } };
  };
}

test('missing GetOwnerModuleFrom*Entry: listeners still come from IP Helper; each loss is said once', async (t) => {
  const host = recordedHost();
  withoutOwnerModule(host);
  const log = memoryLogger();
  const src = createWindowsSource({ logger: log, runner: host.runner, env: {} });
  t.after(() => src.shutdown());
  await src.poll();
  const snap = await src.poll();
  const rdp = snap.listeners.find((l) => l.port === 3389 && l.address === '0.0.0.0')!;
  assert.equal(rdp.boundAt, '2026-11-20T08:00:20.000Z', 'bind time: the IP Helper table is still used');
  assert.equal(rdp.serviceName, undefined);
  assert.deepEqual(snap.warnings, [], 'no per-poll noise');
  const warned = log.records.filter((r) => r.level === 'warn' && /Win32 export iphlpapi\.dll!GetOwnerModuleFrom/.test(r.message));
  assert.equal(warned.length, 4, 'one warning per missing export, over two polls');
  const info = src.info();
  assert.match(info.listenerPath, /IP Helper/);
  assert.match(info.limitations.join('\n'), /GetOwnerModuleFromTcp6Entry unavailable \(Cannot find function\): IPv6 TCP: the owning service/);
});
