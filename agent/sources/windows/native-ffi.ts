import { AF_INET, AF_INET6, TCP_TABLE_OWNER_MODULE_LISTENER, UDP_TABLE_OWNER_MODULE, type TableKind } from './iphlp-decode.js';
import { decodeOwnerModuleBasicInfo, STATUS_INFO_LENGTH_MISMATCH, SystemProcessInformation } from './ntdll-decode.js';
import type { NativeLoad, WindowsNative } from './native.js';
import { PortwardenError } from '../../util/errors.js';

/**
 * The only code that calls Win32 (through koffi, loaded lazily so other platforms never touch
 * it). Every function returns raw bytes; decoding is in the pure modules. Not executable on the
 * Linux CI: it is exercised on Windows only.
 */
const ERROR_INSUFFICIENT_BUFFER = 122;
const NO_ERROR = 0;
const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;

type Fn = (...args: unknown[]) => unknown;
interface KoffiLib { func(proto: string): Fn }
interface Koffi {
  load(path: string): KoffiLib;
  alloc(type: string, len: number): bigint;
  free(ptr: bigint): void;
  view(ptr: bigint, len: number): ArrayBuffer;
  address(value: unknown): bigint;
}

export async function loadWindowsNative(): Promise<NativeLoad> {
  if (process.platform !== 'win32') return { kind: 'unavailable', reason: `not Windows (${process.platform})` };
  let koffi: Koffi;
  try {
    const mod = (await import('koffi')) as unknown as { default: Koffi };
    koffi = mod.default;
  } catch (err) {
    return { kind: 'unavailable', reason: `koffi could not be loaded (${(err as Error).message}); is @koromix/koffi-win32-${process.arch} installed?` };
  }
  try {
    return { kind: 'ok', native: bind(koffi) };
  } catch (err) {
    return { kind: 'unavailable', reason: `IP Helper/ntdll functions could not be bound: ${(err as Error).message}` };
  }
}

function bind(koffi: Koffi): WindowsNative {
  const iphlp = koffi.load('iphlpapi.dll');
  const ntdll = koffi.load('ntdll.dll');
  const k32 = koffi.load('kernel32.dll');
  const getTcp = iphlp.func('uint32_t __stdcall GetExtendedTcpTable(void *buf, _Inout_ uint32_t *size, int order, uint32_t af, int cls, uint32_t reserved)');
  const getUdp = iphlp.func('uint32_t __stdcall GetExtendedUdpTable(void *buf, _Inout_ uint32_t *size, int order, uint32_t af, int cls, uint32_t reserved)');
  const owner: Record<TableKind, Fn> = {
    tcp4: iphlp.func('uint32_t __stdcall GetOwnerModuleFromTcpEntry(void *row, int cls, void *buf, _Inout_ uint32_t *size)'),
    tcp6: iphlp.func('uint32_t __stdcall GetOwnerModuleFromTcp6Entry(void *row, int cls, void *buf, _Inout_ uint32_t *size)'),
    udp4: iphlp.func('uint32_t __stdcall GetOwnerModuleFromUdpEntry(void *row, int cls, void *buf, _Inout_ uint32_t *size)'),
    udp6: iphlp.func('uint32_t __stdcall GetOwnerModuleFromUdp6Entry(void *row, int cls, void *buf, _Inout_ uint32_t *size)'),
  };
  const ntQuery = ntdll.func('uint32_t __stdcall NtQuerySystemInformation(uint32_t cls, void *buf, uint32_t len, _Out_ uint32_t *retLen)');
  const openProcess = k32.func('void * __stdcall OpenProcess(uint32_t access, int inherit, uint32_t pid)');
  const closeHandle = k32.func('int __stdcall CloseHandle(void *h)');
  const queryImage = k32.func('int __stdcall QueryFullProcessImageNameW(void *h, uint32_t flags, void *buf, _Inout_ uint32_t *size)');

  /** Calls `fill(buf, sizeRef)` until the buffer is big enough (tables grow between calls). */
  const sized = (call: (buf: Buffer, size: number[]) => number, what: string): Buffer => {
    let size = [64 * 1024];
    for (let attempt = 0; attempt < 5; attempt++) {
      const buf = Buffer.alloc(size[0] ?? 0);
      const rc = call(buf, size);
      if (rc === NO_ERROR) return buf.subarray(0, Math.min(buf.length, size[0] ?? buf.length));
      if (rc !== ERROR_INSUFFICIENT_BUFFER) throw new PortwardenError('WIN32_CALL_FAILED', `${what} failed with error ${rc}`);
      size = [Math.ceil((size[0] ?? 0) * 1.25) + 4096];
    }
    throw new PortwardenError('WIN32_CALL_FAILED', `${what}: table kept growing`, { retriable: true });
  };

  return {
    table(kind) {
      const af = kind.endsWith('6') ? AF_INET6 : AF_INET;
      return kind.startsWith('tcp')
        ? sized((b, s) => getTcp(b, s, 0, af, TCP_TABLE_OWNER_MODULE_LISTENER, 0) as number, 'GetExtendedTcpTable')
        : sized((b, s) => getUdp(b, s, 0, af, UDP_TABLE_OWNER_MODULE, 0) as number, 'GetExtendedUdpTable');
    },
    ownerModule(kind, row) {
      const size = [4096];
      const ptr = koffi.alloc('uint8_t', size[0] ?? 4096);
      try {
        const rc = owner[kind](row, 0, ptr, size) as number;
        if (rc !== NO_ERROR) return undefined;
        return decodeOwnerModuleBasicInfo(Buffer.from(koffi.view(ptr, 4096)), ptr);
      } finally {
        koffi.free(ptr);
      }
    },
    processTable() {
      let len = 1024 * 1024;
      for (let attempt = 0; attempt < 6; attempt++) {
        const ptr = koffi.alloc('uint8_t', len);
        const ret = [0];
        const status = (ntQuery(SystemProcessInformation, ptr, len, ret) as number) >>> 0;
        if (status === 0) {
          // Copy out so the pointers can be resolved against `base` after the native block is freed.
          const buffer = Buffer.from(Buffer.from(koffi.view(ptr, len)));
          koffi.free(ptr);
          return { buffer, base: ptr };
        }
        koffi.free(ptr);
        if (status !== STATUS_INFO_LENGTH_MISMATCH) throw new PortwardenError('WIN32_CALL_FAILED', `NtQuerySystemInformation failed: 0x${status.toString(16)}`);
        len = Math.max(len * 2, (ret[0] ?? 0) + 64 * 1024);
      }
      throw new PortwardenError('WIN32_CALL_FAILED', 'NtQuerySystemInformation: process table kept growing', { retriable: true });
    },
    imagePath(pid) {
      const h = openProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
      if (h === null || h === 0n) return undefined;
      try {
        const buf = Buffer.alloc(32768 * 2);
        const size = [32768];
        if (queryImage(h, 0, buf, size) === 0) return undefined;
        return buf.toString('utf16le', 0, (size[0] ?? 0) * 2);
      } finally {
        closeHandle(h);
      }
    },
  };
}
