import type { TableKind } from './iphlp-decode.js';
import type { OwnerModule } from './ntdll-decode.js';
import type { MissingExport } from './ffi-bind.js';

/**
 * The thin layer that touches Windows. Everything it returns is raw (bytes, text); the
 * collector decodes it with pure functions, so tests feed recorded outputs through a fake.
 */
export interface WindowsNative {
  /**
   * Exports this system lacks (wine has no GetOwnerModuleFrom*Entry): the methods that need them
   * throw WIN32_EXPORT_MISSING (table, processTable) or return undefined (ownerModule, imagePath).
   */
  readonly missing?: readonly MissingExport[];
  /** Raw OWNER_MODULE table (TCP: TCP_TABLE_OWNER_MODULE_LISTENER; UDP: UDP_TABLE_OWNER_MODULE). */
  table(kind: TableKind): Buffer;
  /** Raw TCP_TABLE_OWNER_PID_CONNECTIONS table (every row but listeners, with owning pids). */
  connections?(kind: 'tcp4' | 'tcp6'): Buffer;
  /** GetOwnerModuleFrom*Entry (basic info) for one row; undefined when Windows refuses. */
  ownerModule(kind: TableKind, row: Buffer): OwnerModule | undefined;
  /** NtQuerySystemInformation(SystemProcessInformation): a copy of the buffer and the address it had. */
  processTable(): { buffer: Buffer; base: bigint };
  /** TOKEN_MANDATORY_LABEL bytes of the process's token (GetTokenInformation); undefined when refused. */
  tokenIntegrity?(pid: number): Buffer | undefined;
  /**
   * PROCESS_BASIC_INFORMATION (NtQueryInformationProcess) handed to `read`, which walks the
   * process's memory through `mem` (ReadProcessMemory); undefined when either is refused.
   */
  processMemory?<T>(pid: number, read: (pbi: Buffer, mem: (addr: bigint, len: number) => Buffer | undefined) => T | undefined): T | undefined;
  /** QueryFullProcessImageNameW (`C:\Windows\System32\svchost.exe`); undefined when access is denied. */
  imagePath(pid: number): string | undefined;
}

export type NativeLoad = { kind: 'ok'; native: WindowsNative } | { kind: 'unavailable'; reason: string };
