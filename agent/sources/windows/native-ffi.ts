import { AF_INET, AF_INET6, TCP_TABLE_OWNER_MODULE_LISTENER, TCP_TABLE_OWNER_PID_CONNECTIONS, UDP_TABLE_OWNER_MODULE, type TableKind } from './iphlp-decode.js';
import { decodeOwnerModuleBasicInfo, STATUS_INFO_LENGTH_MISMATCH, SystemProcessInformation } from './ntdll-decode.js';
import type { NativeLoad, WindowsNative } from './native.js';
import { bindExports, exportName, type ExportSpec, type Fn, type KoffiLib, type MissingExport } from './ffi-bind.js';
import { PortwardenError } from '../../util/errors.js';

/**
 * The only code that calls Win32 (through koffi, loaded lazily so other platforms never touch
 * it). Every function returns raw bytes; decoding is in the pure modules. CI runs it under wine
 * (test/wine), through the same koffi calls as on Windows.
 */
const ERROR_INSUFFICIENT_BUFFER = 122;
const NO_ERROR = 0;
const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;

interface Koffi {
  load(path: string): KoffiLib;
  alloc(type: string, len: number): bigint;
  free(ptr: bigint): void;
  view(ptr: bigint, len: number): ArrayBuffer;
  address(value: unknown): bigint;
}

const INTEGRITY_LOST = 'token integrity levels (process.Ext.token.integrity_level_name) are not reported';
const CWD_LOST = 'working directories (process.working_directory) are not reported';
const PROCESS_VM_READ = 0x0010;
const TOKEN_QUERY = 0x0008;
const TokenIntegrityLevel = 25;
const OWNER_LOST = 'the owning service of sockets inside shared processes (portwarden.listener.service_name) is not reported';
const ownerProto = (fn: string): string => `uint32_t __stdcall ${fn}(void *row, int cls, void *buf, _Inout_ uint32_t *size)`;

/** Every export the collector uses, and what goes missing without it. */
export const WINDOWS_EXPORTS = {
  getTcp: { dll: 'iphlpapi.dll', proto: 'uint32_t __stdcall GetExtendedTcpTable(void *buf, _Inout_ uint32_t *size, int order, uint32_t af, int cls, uint32_t reserved)', lost: 'TCP listeners come from netstat -ano (no bind times)' },
  getUdp: { dll: 'iphlpapi.dll', proto: 'uint32_t __stdcall GetExtendedUdpTable(void *buf, _Inout_ uint32_t *size, int order, uint32_t af, int cls, uint32_t reserved)', lost: 'UDP listeners come from netstat -ano (no bind times)' },
  tcp4: { dll: 'iphlpapi.dll', proto: ownerProto('GetOwnerModuleFromTcpEntry'), lost: `IPv4 TCP: ${OWNER_LOST}` },
  tcp6: { dll: 'iphlpapi.dll', proto: ownerProto('GetOwnerModuleFromTcp6Entry'), lost: `IPv6 TCP: ${OWNER_LOST}` },
  udp4: { dll: 'iphlpapi.dll', proto: ownerProto('GetOwnerModuleFromUdpEntry'), lost: `IPv4 UDP: ${OWNER_LOST}` },
  udp6: { dll: 'iphlpapi.dll', proto: ownerProto('GetOwnerModuleFromUdp6Entry'), lost: `IPv6 UDP: ${OWNER_LOST}` },
  ntQuery: { dll: 'ntdll.dll', proto: 'uint32_t __stdcall NtQuerySystemInformation(uint32_t cls, void *buf, uint32_t len, _Out_ uint32_t *retLen)', lost: 'the process table comes from Win32_Process through PowerShell (1-3 s per poll)' },
  openProcess: { dll: 'kernel32.dll', proto: 'void * __stdcall OpenProcess(uint32_t access, int inherit, uint32_t pid)', lost: 'process.executable (full image path) is not reported unless Win32_Process gives it' },
  closeHandle: { dll: 'kernel32.dll', proto: 'int __stdcall CloseHandle(void *h)', lost: 'process.executable (full image path) is not reported unless Win32_Process gives it' },
  openToken: { dll: 'advapi32.dll', proto: 'int __stdcall OpenProcessToken(void *h, uint32_t access, _Out_ void **token)', lost: INTEGRITY_LOST },
  tokenInfo: { dll: 'advapi32.dll', proto: 'int __stdcall GetTokenInformation(void *token, int cls, void *buf, uint32_t len, _Out_ uint32_t *ret)', lost: INTEGRITY_LOST },
  queryProcess: { dll: 'ntdll.dll', proto: 'uint32_t __stdcall NtQueryInformationProcess(void *h, int cls, void *buf, uint32_t len, _Out_ uint32_t *ret)', lost: CWD_LOST },
  readMemory: { dll: 'kernel32.dll', proto: 'int __stdcall ReadProcessMemory(void *h, uintptr_t addr, void *buf, uintptr_t len, _Out_ uintptr_t *read)', lost: CWD_LOST },
  queryImage: { dll: 'kernel32.dll', proto: 'int __stdcall QueryFullProcessImageNameW(void *h, uint32_t flags, void *buf, _Inout_ uint32_t *size)', lost: 'process.executable (full image path) is not reported unless Win32_Process gives it' },
} satisfies Record<string, ExportSpec>;

export async function loadWindowsNative(): Promise<NativeLoad> {
  if (process.platform !== 'win32') return { kind: 'unavailable', reason: `not Windows (${process.platform})` };
  let koffi: Koffi;
  try {
    const mod = (await import('koffi')) as unknown as { default: Koffi };
    koffi = mod.default;
  } catch (err) {
    return { kind: 'unavailable', reason: `koffi could not be loaded (${(err as Error).message}); is @koromix/koffi-win32-${process.arch} installed?` };
  }
  const native = bindWindowsNative(koffi, (dll) => koffi.load(dll));
  const core = [WINDOWS_EXPORTS.getTcp, WINDOWS_EXPORTS.getUdp, WINDOWS_EXPORTS.ntQuery].map((e) => `${e.dll}!${exportName(e.proto)}`);
  if (core.every((fn) => native.missing.some((m) => m.fn === fn))) return { kind: 'unavailable', reason: `no IP Helper table or process functions could be bound: ${native.missing.map((m) => `${m.fn}: ${m.reason}`).join('; ')}` };
  return { kind: 'ok', native };
}

const missingError = (fn: string): PortwardenError => new PortwardenError('WIN32_EXPORT_MISSING', `${fn} is not available on this system`);

/**
 * The Win32 layer over whatever exports `open` yields, each bound on its own (`open` is
 * koffi.load on Windows; tests pass other libraries to see the degradation).
 */
export function bindWindowsNative(koffi: Pick<Koffi, 'alloc' | 'free' | 'view'>, open: (dll: string) => KoffiLib): WindowsNative & { missing: MissingExport[] } {
  const { fns, missing } = bindExports(open, WINDOWS_EXPORTS);
  const { getTcp, getUdp, ntQuery, openProcess, closeHandle, queryImage, openToken, tokenInfo, queryProcess, readMemory } = fns;
  /** Runs `use` on a process handle with `access`; undefined when Windows refuses the handle. */
  const withProcess = <T>(pid: number, access: number, use: (h: unknown) => T | undefined): T | undefined => {
    if (openProcess === undefined || closeHandle === undefined) return undefined;
    const h = openProcess(access, 0, pid);
    if (h === null || h === 0n) return undefined;
    try {
      return use(h);
    } finally {
      closeHandle(h);
    }
  };
  const owner: Record<TableKind, Fn | undefined> = { tcp4: fns.tcp4, tcp6: fns.tcp6, udp4: fns.udp4, udp6: fns.udp6 };

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
    missing,
    table(kind) {
      const af = kind.endsWith('6') ? AF_INET6 : AF_INET;
      const tcp = kind.startsWith('tcp');
      const fn = tcp ? getTcp : getUdp;
      const name = tcp ? 'GetExtendedTcpTable' : 'GetExtendedUdpTable';
      if (fn === undefined) throw missingError(name);
      return sized((b, s) => fn(b, s, 0, af, tcp ? TCP_TABLE_OWNER_MODULE_LISTENER : UDP_TABLE_OWNER_MODULE, 0) as number, name);
    },
    connections(kind) {
      if (getTcp === undefined) throw missingError('GetExtendedTcpTable');
      return sized((b, s) => getTcp(b, s, 0, kind === 'tcp6' ? AF_INET6 : AF_INET, TCP_TABLE_OWNER_PID_CONNECTIONS, 0) as number, 'GetExtendedTcpTable');
    },
    ownerModule(kind, row) {
      const fn = owner[kind];
      if (fn === undefined) return undefined;
      const size = [4096];
      const ptr = koffi.alloc('uint8_t', size[0] ?? 4096);
      try {
        const rc = fn(row, 0, ptr, size) as number;
        if (rc !== NO_ERROR) return undefined;
        return decodeOwnerModuleBasicInfo(Buffer.from(koffi.view(ptr, 4096)), ptr);
      } finally {
        koffi.free(ptr);
      }
    },
    processTable() {
      if (ntQuery === undefined) throw missingError('NtQuerySystemInformation');
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
    tokenIntegrity(pid) {
      if (openToken === undefined || tokenInfo === undefined) return undefined;
      return withProcess(pid, PROCESS_QUERY_LIMITED_INFORMATION, (h) => {
        const token: unknown[] = [null];
        if (openToken(h, TOKEN_QUERY, token) === 0 || token[0] === null) return undefined;
        try {
          const buf = Buffer.alloc(128);
          const ret = [0];
          if (tokenInfo(token[0], TokenIntegrityLevel, buf, buf.length, ret) === 0) return undefined;
          return buf.subarray(0, Math.min(buf.length, ret[0] ?? 0));
        } finally {
          closeHandle?.(token[0]);
        }
      });
    },
    processMemory(pid, read) {
      if (queryProcess === undefined || readMemory === undefined) return undefined;
      return withProcess(pid, PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, (h) => {
        const pbi = Buffer.alloc(48);
        if ((queryProcess(h, 0, pbi, pbi.length, [0]) as number) !== 0) return undefined;
        return read(pbi, (addr, len) => {
          const buf = Buffer.alloc(len);
          const got: unknown[] = [0];
          if (readMemory(h, addr, buf, len, got) === 0) return undefined;
          return buf.subarray(0, Number(got[0] ?? 0));
        });
      });
    },
    imagePath(pid) {
      if (openProcess === undefined || closeHandle === undefined || queryImage === undefined) return undefined;
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
